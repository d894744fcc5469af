using System.Security.Cryptography;
using Actorvisor.Hardware.Native;

namespace Actorvisor.Hardware.Snapshots;

/// <summary>
/// Writes a <see cref="SnapshotContent"/> as a snapshot directory. Everything goes into a sibling directory with
/// a partial name first (<see cref="SnapshotFormat.PartialSuffix"/>): the state files, the sparse memory files
/// (only pages holding data are written; the rest stay holes), each fsynced, then the manifest with every file's
/// SHA-256, then the directory is renamed to its final name and the parent fsynced. A crash at any point leaves
/// either no directory of that name or the complete snapshot; a partial directory has no manifest until its
/// files are durable, and never the final name.
/// </summary>
public sealed class SnapshotWriter
{
    /// <summary>Pages read, scanned and hashed at a time.</summary>
    private const int ChunkPages = 256;

    /// <summary>Called as memory is written with (bytes done, bytes in all), from the writing thread.</summary>
    public Action<ulong, ulong>? Progress { get; init; }

    /// <summary>Called after each step with the partial directory (fault injection in tests: a throw here stands for a crash).</summary>
    public Action<SnapshotWriteStep, string>? AfterStep { get; init; }

    /// <summary>What a finished write produced.</summary>
    /// <param name="Directory">The snapshot directory.</param>
    /// <param name="Manifest">Its manifest.</param>
    /// <param name="BytesOnDisk">Bytes the files occupy on disk (holes excluded).</param>
    public sealed record Result(string Directory, SnapshotManifest Manifest, ulong BytesOnDisk);

    /// <summary>
    /// Writes <paramref name="content"/> to the new directory <paramref name="directory"/> (its parent must exist;
    /// it must not). No vCPU of the VM may run while this reads its memory.
    /// </summary>
    /// <exception cref="SnapshotException">the directory exists, its parent does not, or a file cannot be written; the partial directory is removed.</exception>
    public Result Write(string directory, SnapshotContent content)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        ArgumentNullException.ThrowIfNull(content);
        var target = Path.TrimEndingDirectorySeparator(Path.GetFullPath(directory));
        var parent = Path.GetDirectoryName(target) ?? throw new SnapshotException(target, "a snapshot cannot be the root directory");
        if (!Directory.Exists(parent)) throw new SnapshotException(target, $"its parent directory {parent} does not exist");
        if (Path.Exists(target)) throw new SnapshotException(target, "it already exists; snapshots are never overwritten");
        var partial = target + SnapshotFormat.PartialSuffix + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(4));
        try
        {
            Directory.CreateDirectory(partial);
            DurableFiles.SyncDirectory(parent);
            AfterStep?.Invoke(SnapshotWriteStep.PartialDirectoryCreated, partial);

            var files = new Dictionary<string, SnapshotFileEntry>();
            var vcpus = new List<string>();
            for (int i = 0; i < content.VcpuStates.Count; i++)
            {
                var name = SnapshotFormat.VcpuFile(i);
                WriteStateFile(partial, name, content.VcpuStates[i], files);
                vcpus.Add(name);
            }
            WriteStateFile(partial, SnapshotFormat.PlatformFile, content.PlatformState, files);
            var devices = new List<SnapshotDeviceEntry>();
            foreach (var device in content.Devices)
            {
                var name = SnapshotFormat.DeviceFile(device.Name);
                if (files.ContainsKey(name)) throw new SnapshotException(Path.Join(partial, name), $"two devices are saved under one file name (device '{device.Name}')");
                WriteStateFile(partial, name, device.SaveState(), files);
                devices.Add(new SnapshotDeviceEntry(device.Name, name));
            }
            AfterStep?.Invoke(SnapshotWriteStep.StateWritten, partial);

            var memory = new List<SnapshotMemoryEntry>();
            ulong done = 0, total = content.MemoryBytes;
            foreach (var region in content.Memory)
            {
                var name = SnapshotFormat.MemoryFile(region.Slot);
                var (sha, written) = WriteMemoryFile(Path.Join(partial, name), region, bytes =>
                {
                    done += bytes;
                    Progress?.Invoke(done, total);
                });
                files[name] = new SnapshotFileEntry(region.Size, sha);
                memory.Add(new SnapshotMemoryEntry(region.Slot, region.GuestPhysicalAddress, region.Size, name, written));
            }
            AfterStep?.Invoke(SnapshotWriteStep.MemoryWritten, partial);

            var manifest = new SnapshotManifest
            {
                FormatVersion = SnapshotFormat.Version,
                Accelerator = content.Accelerator.ToString(),
                VmName = content.VmName,
                Image = content.Image,
                TakenAt = DateTimeOffset.UtcNow,
                Vcpus = vcpus,
                Platform = SnapshotFormat.PlatformFile,
                MachinePlatform = content.Platform.ToString(),
                Memory = memory,
                Devices = devices,
                Files = files,
            };
            DurableFiles.WriteNew(Path.Join(partial, SnapshotFormat.ManifestFile), System.Text.Encoding.UTF8.GetBytes(manifest.ToJson()));
            DurableFiles.SyncDirectory(partial);
            AfterStep?.Invoke(SnapshotWriteStep.ManifestWritten, partial);

            Directory.Move(partial, target);
            DurableFiles.SyncDirectory(parent);
            AfterStep?.Invoke(SnapshotWriteStep.Renamed, target);
            return new Result(target, manifest, BytesOnDisk(target));
        }
        catch (Exception e)
        {
            TryDelete(partial);
            if (e is SnapshotException) throw;
            throw new SnapshotException(target, $"writing the snapshot failed: {e.Message}", e);
        }
    }

    private static void WriteStateFile(string directory, string name, byte[] bytes, Dictionary<string, SnapshotFileEntry> files)
    {
        DurableFiles.WriteNew(Path.Join(directory, name), bytes);
        files[name] = new SnapshotFileEntry((ulong)bytes.Length, Convert.ToHexStringLower(SHA256.HashData(bytes)));
    }

    /// <summary>Writes the region's pages that hold data at their offsets (zero pages stay holes), sizes the file, fsyncs it; returns the SHA-256 of the whole file and the pages written.</summary>
    private static (string Sha256, ulong PagesWritten) WriteMemoryFile(string path, SnapshotMemoryRegion region, Action<ulong> progress)
    {
        using var stream = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, bufferSize: 0);
        var file = stream.SafeFileHandle;
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var buffer = new byte[ChunkPages * (int)PageSize.Bytes];
        ulong pages = region.PageCount, written = 0;
        for (ulong first = 0; first < pages; first += ChunkPages)
        {
            int count = (int)Math.Min(ChunkPages, pages - first);
            var chunk = buffer.AsMemory(0, count * (int)PageSize.Bytes);
            if (region.Lazy is null) region.Memory.Read(first << PageSize.Shift, chunk.Span);
            else
                for (int i = 0; i < count; i++) region.ReadPage(first + (ulong)i, chunk.Slice(i * (int)PageSize.Bytes, (int)PageSize.Bytes));
            hash.AppendData(chunk.Span);
            // Runs of pages holding data, each one write at its offset.
            int run = -1;
            for (int i = 0; i <= count; i++)
            {
                bool data = i < count && chunk.Span.Slice(i * (int)PageSize.Bytes, (int)PageSize.Bytes).ContainsAnyExcept((byte)0);
                if (data && run < 0) run = i;
                if (!data && run >= 0)
                {
                    RandomAccess.Write(file, chunk.Span[(run * (int)PageSize.Bytes)..(i * (int)PageSize.Bytes)], (long)((first + (ulong)run) << PageSize.Shift));
                    written += (ulong)(i - run);
                    run = -1;
                }
            }
            progress((ulong)count << PageSize.Shift);
        }
        stream.SetLength((long)region.Size);
        stream.Flush(flushToDisk: true);
        return (Convert.ToHexStringLower(hash.GetHashAndReset()), written);
    }

    /// <summary>Bytes the directory's files occupy on disk (st_blocks * 512): a sparse memory file counts only its data.</summary>
    public static ulong BytesOnDisk(string directory)
    {
        ulong sum = 0;
        foreach (var f in Directory.EnumerateFiles(directory)) sum += AllocatedBytes(f);
        return sum;
    }

    private static unsafe ulong AllocatedBytes(string path)
    {
        Tmds.Linux.stat st;
        var bytes = System.Text.Encoding.UTF8.GetBytes(path + "\0");
        fixed (byte* p = bytes)
            Sys.Check(Tmds.Linux.LibC.stat(p, &st), "stat", path);
        return (ulong)(long)st.st_blocks * 512;
    }

    private static void TryDelete(string partial)
    {
        try
        {
            if (Directory.Exists(partial)) Directory.Delete(partial, recursive: true);
        }
        catch (IOException)
        {
            // Left behind: it has a partial name and (unless the manifest step finished) no manifest; it never validates.
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
