using System.Security.Cryptography;
using System.Text.Json;
using Actorvisor.Hardware.Accel;
using Actorvisor.Hardware.Memory;
using Actorvisor.Hardware.Native;
using Actorvisor.Hardware.X86;

namespace Actorvisor.Hardware.Snapshots;

/// <summary>
/// An opened and checked snapshot directory: its manifest is of this format version and accelerator kind, every
/// file it lists exists with the recorded size (a truncated memory file is refused here), and every state file
/// matches its SHA-256 (read once, kept). The memory files are checked by <see cref="ReadMemoryInto"/> (eager) or
/// <see cref="VerifyMemory"/>; lazy and mmap restores map them as they are. Every refusal is a
/// <see cref="SnapshotException"/> naming the file.
/// </summary>
public sealed class SnapshotReader
{
    private readonly Dictionary<string, byte[]> _states = [];

    private SnapshotReader(string directory, SnapshotManifest manifest)
    {
        Directory = directory;
        Manifest = manifest;
    }

    /// <summary>The snapshot directory.</summary>
    public string Directory { get; }

    /// <summary>The manifest.</summary>
    public SnapshotManifest Manifest { get; }

    /// <summary>
    /// Opens <paramref name="directory"/> for a restore on <paramref name="accelerator"/>: reads and checks the manifest,
    /// every listed file's size, and every state file's checksum.
    /// </summary>
    /// <exception cref="SnapshotException">a missing or unreadable manifest, another format version or accelerator kind, a missing, truncated or corrupt file.</exception>
    public static SnapshotReader Open(string directory, AcceleratorKind accelerator)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        var dir = Path.TrimEndingDirectorySeparator(Path.GetFullPath(directory));
        if (!System.IO.Directory.Exists(dir)) throw new SnapshotException(dir, "no such snapshot directory");
        var manifestPath = Path.Join(dir, SnapshotFormat.ManifestFile);
        SnapshotManifest manifest;
        try
        {
            manifest = SnapshotManifest.FromJson(File.ReadAllText(manifestPath));
        }
        catch (FileNotFoundException)
        {
            throw new SnapshotException(manifestPath, "missing: not a snapshot, or one whose writing never finished");
        }
        catch (JsonException e)
        {
            throw new SnapshotException(manifestPath, $"not a snapshot manifest: {e.Message}", e);
        }
        catch (IOException e)
        {
            throw new SnapshotException(manifestPath, $"cannot be read: {e.Message}", e);
        }
        if (manifest.FormatVersion != SnapshotFormat.Version)
            throw new SnapshotException(manifestPath, $"snapshot format version {manifest.FormatVersion}; this build reads version {SnapshotFormat.Version}");
        if (manifest.Accelerator != accelerator.ToString())
            throw new SnapshotException(manifestPath, $"taken on the {manifest.Accelerator} accelerator; it cannot be restored on the {accelerator} accelerator");
        if (!Enum.TryParse<GuestPlatform>(manifest.MachinePlatform, ignoreCase: false, out var platform) || !Enum.IsDefined(platform))
            throw new SnapshotException(manifestPath, $"machine platform '{manifest.MachinePlatform}' is not one this build knows ({string.Join(", ", Enum.GetNames<GuestPlatform>())})");
        var reader = new SnapshotReader(dir, manifest);
        reader.CheckFiles(manifestPath);
        return reader;
    }

    private void CheckFiles(string manifestPath)
    {
        var m = Manifest;
        if (m.Vcpus is null || m.Vcpus.Count == 0) throw new SnapshotException(manifestPath, "it lists no vCPU");
        if (m.Memory is null || m.Memory.Count == 0) throw new SnapshotException(manifestPath, "it lists no memory");
        if (m.Files is null) throw new SnapshotException(manifestPath, "it lists no files");
        var referenced = m.Vcpus.Concat([m.Platform]).Concat(m.Devices.Select(d => d.File)).Concat(m.Memory.Select(r => r.File));
        foreach (var name in referenced)
        {
            if (!IsPlainName(name)) throw new SnapshotException(manifestPath, $"'{name}' is not a file name inside the snapshot");
            if (!m.Files.ContainsKey(name)) throw new SnapshotException(manifestPath, $"'{name}' has no size and checksum");
        }
        foreach (var region in m.Memory)
        {
            if (region.Size == 0 || !PageSize.IsAligned(region.Size) || !PageSize.IsAligned(region.GuestPhysicalAddress))
                throw new SnapshotException(manifestPath, $"memory region of slot {region.Slot} is not page aligned (0x{region.GuestPhysicalAddress:x} + 0x{region.Size:x})");
            if (m.Files[region.File].Bytes != region.Size)
                throw new SnapshotException(manifestPath, $"memory file '{region.File}' is listed with {m.Files[region.File].Bytes} bytes for a region of {region.Size}");
        }
        foreach (var (name, entry) in m.Files)
        {
            if (!IsPlainName(name)) throw new SnapshotException(manifestPath, $"'{name}' is not a file name inside the snapshot");
            var path = Path.Join(Directory, name);
            var info = new FileInfo(path);
            if (!info.Exists) throw new SnapshotException(path, "missing");
            if ((ulong)info.Length < entry.Bytes) throw new SnapshotException(path, $"truncated: {info.Length} bytes, the manifest says {entry.Bytes}");
            if ((ulong)info.Length > entry.Bytes) throw new SnapshotException(path, $"{info.Length} bytes, the manifest says {entry.Bytes}");
        }
        foreach (var name in m.Vcpus.Concat([m.Platform]).Concat(m.Devices.Select(d => d.File)))
        {
            var path = Path.Join(Directory, name);
            var bytes = File.ReadAllBytes(path);
            CheckSha(path, SHA256.HashData(bytes), m.Files[name].Sha256);
            _states[name] = bytes;
        }
    }

    private static bool IsPlainName(string name) =>
        !string.IsNullOrEmpty(name) && name != "." && name != ".." && name.IndexOfAny(['/', '\0']) < 0;

    private static void CheckSha(string path, byte[] actual, string expected)
    {
        var hex = Convert.ToHexStringLower(actual);
        if (!string.Equals(hex, expected, StringComparison.OrdinalIgnoreCase))
            throw new SnapshotException(path, $"checksum mismatch: SHA-256 {hex}, the manifest says {expected} (the file is corrupt)");
    }

    /// <summary>The platform the snapshotted machine was built as (minimal for a manifest that does not say).</summary>
    public GuestPlatform Platform => PlatformOf(Manifest);

    /// <summary>The platform <paramref name="manifest"/> names (<see cref="Open"/> refused any other).</summary>
    public static GuestPlatform PlatformOf(SnapshotManifest manifest)
    {
        ArgumentNullException.ThrowIfNull(manifest);
        return Enum.TryParse<GuestPlatform>(manifest.MachinePlatform, ignoreCase: false, out var platform) ? platform : GuestPlatform.Minimal;
    }

    /// <summary>Number of vCPUs.</summary>
    public int VcpuCount => Manifest.Vcpus.Count;

    /// <summary>vCPU <paramref name="id"/>'s state (checked).</summary>
    public byte[] VcpuState(int id) => _states[Manifest.Vcpus[id]];

    /// <summary>The platform state (checked).</summary>
    public byte[] PlatformState => _states[Manifest.Platform];

    /// <summary>The saved state of device <paramref name="name"/>, or null if none was saved.</summary>
    public byte[]? DeviceState(string name) =>
        Manifest.Devices.FirstOrDefault(d => d.Name == name) is { } d ? _states[d.File] : null;

    /// <summary>The memory region of memslot <paramref name="slot"/>, or null.</summary>
    public SnapshotMemoryEntry? Region(uint slot) => Manifest.Memory.FirstOrDefault(r => r.Slot == slot);

    /// <summary>The path of a region's memory file.</summary>
    public string MemoryPath(SnapshotMemoryEntry region) => Path.Join(Directory, region.File);

    /// <summary>
    /// Reads a region's memory file into <paramref name="memory"/> (fresh, zeroed memory of the region's size): only
    /// pages holding data are written into it, so holes stay untouched; the file's checksum is checked on the way (with
    /// the <see cref="MemoryFileDigest"/> scheme, holes are found with SEEK_DATA and never read, and the chunks are read
    /// and hashed on as many threads as there are cores). <paramref name="progress"/> may be called from those threads,
    /// one call at a time.
    /// </summary>
    /// <exception cref="SnapshotException">the file is short or its checksum does not match.</exception>
    public void ReadMemoryInto(SnapshotMemoryEntry region, HostMemory memory, Action<ulong>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(memory);
        if (memory.Size != region.Size) throw new ArgumentException($"memory of 0x{memory.Size:x} bytes for a region of 0x{region.Size:x}", nameof(memory));
        ScanMemoryFile(region, (offset, chunk) =>
        {
            int page = (int)PageSize.Bytes;
            for (int i = 0; i < chunk.Length; i += page)
            {
                var p = chunk.Slice(i, page);
                if (p.ContainsAnyExcept((byte)0)) memory.Write(offset + (ulong)i, p);
            }
        }, progress);
    }

    /// <summary>Reads a region's memory file (its data, holes skipped with the chunked scheme) and checks its checksum.</summary>
    /// <exception cref="SnapshotException">the file is short or its checksum does not match.</exception>
    public void VerifyMemory(SnapshotMemoryEntry region) => ScanMemoryFile(region, (_, _) => { }, null);

    private void ScanMemoryFile(SnapshotMemoryEntry region, SpanAction scan, Action<ulong>? progress)
    {
        var path = MemoryPath(region);
        var entry = Manifest.Files[region.File];
        using var file = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        switch (entry.Digest)
        {
            case null:
                ScanWhole(file, path, region, scan, progress, entry.Sha256);
                return;
            case MemoryFileDigest.Scheme:
                break;
            default:
                throw new SnapshotException(path, $"its checksum scheme '{entry.Digest}' is not one this build knows (SHA-256 of the file, or {MemoryFileDigest.Scheme})");
        }
        var digest = new MemoryFileDigest(region.Size);
        var progressGate = new Lock();
        try
        {
            Parallel.For(0, digest.ChunkCount, new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount },
                () => new byte[MemoryFileDigest.ChunkBytes],
                (index, _, buffer) =>
                {
                    long offset = (long)index * MemoryFileDigest.ChunkBytes;
                    int length = digest.ChunkLength(index);
                    if (!SparseFile.HasData(file, offset, length)) digest.SetZeroChunk(index);
                    else
                    {
                        ReadFully(file, path, region, buffer.AsSpan(0, length), offset);
                        digest.SetChunk(index, buffer.AsSpan(0, length));
                        scan((ulong)offset, buffer.AsSpan(0, length));
                    }
                    if (progress is not null)
                        lock (progressGate) progress((ulong)length);
                    return buffer;
                },
                _ => { });
        }
        catch (AggregateException e) when (e.InnerExceptions.Count == 1)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(e.InnerExceptions[0]).Throw();
        }
        CheckDigest(path, digest.Finish(), entry.Sha256);
    }

    // A memory file written before the chunked scheme: the SHA-256 of all of it, read in order.
    private static void ScanWhole(Microsoft.Win32.SafeHandles.SafeFileHandle file, string path, SnapshotMemoryEntry region, SpanAction scan, Action<ulong>? progress, string expected)
    {
        var buffer = new byte[MemoryFileDigest.ChunkBytes];
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        for (ulong offset = 0; offset < region.Size; offset += (ulong)buffer.Length)
        {
            int want = (int)Math.Min((ulong)buffer.Length, region.Size - offset);
            ReadFully(file, path, region, buffer.AsSpan(0, want), (long)offset);
            hash.AppendData(buffer, 0, want);
            scan(offset, buffer.AsSpan(0, want));
            progress?.Invoke((ulong)want);
        }
        CheckSha(path, hash.GetHashAndReset(), expected);
    }

    private static void ReadFully(Microsoft.Win32.SafeHandles.SafeFileHandle file, string path, SnapshotMemoryEntry region, Span<byte> into, long offset)
    {
        int got = 0;
        while (got < into.Length)
        {
            int n = RandomAccess.Read(file, into[got..], offset + got);
            if (n == 0) throw new SnapshotException(path, $"truncated: it ends at byte {offset + got}, the region is {region.Size} bytes");
            got += n;
        }
    }

    private static void CheckDigest(string path, string actual, string expected)
    {
        if (!string.Equals(actual, expected, StringComparison.OrdinalIgnoreCase))
            throw new SnapshotException(path, $"checksum mismatch: {MemoryFileDigest.Scheme} {actual}, the manifest says {expected} (the file is corrupt)");
    }

    private delegate void SpanAction(ulong offset, ReadOnlySpan<byte> chunk);
}
