using System.Security.Cryptography;
using Actorvisor.Hardware.Native;

namespace Actorvisor.Hardware.Snapshots;

/// <summary>
/// Writes a <see cref="SnapshotContent"/> as a snapshot directory. Everything goes into a sibling directory with
/// a partial name first (<see cref="SnapshotFormat.PartialSuffix"/>): the state files, the sparse memory files
/// (only pages holding data are written; the rest stay holes), each fsynced, then the manifest with every file's
/// SHA-256, then the directory is renamed to its final name and the parent fsynced. A crash at any point leaves
/// either no directory of that name or the complete snapshot; a partial directory has no manifest until its
/// files are durable, and never the final name. The writer holds the partial directory locked while it writes
/// (<see cref="PartialSnapshotDirectories"/>), so what a crash left can be told from a write in progress and removed.
/// </summary>
public sealed class SnapshotWriter
{
    /// <summary>Called as memory is written with (bytes done, bytes in all), from the threads writing it, one call at a time.</summary>
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
        FileDescriptor? held = null;
        try
        {
            Directory.CreateDirectory(partial);
            // Held until the rename: a node that starts meanwhile leaves a partial directory someone holds alone.
            held = PartialSnapshotDirectories.Hold(partial);
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
                var (digest, written) = WriteMemoryFile(Path.Join(partial, name), region, bytes =>
                {
                    done += bytes;
                    Progress?.Invoke(done, total);
                });
                files[name] = new SnapshotFileEntry(region.Size, digest, MemoryFileDigest.Scheme);
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
                Disks = content.Disks,
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
        finally
        {
            held?.Dispose();
        }
    }

    private static void WriteStateFile(string directory, string name, byte[] bytes, Dictionary<string, SnapshotFileEntry> files)
    {
        DurableFiles.WriteNew(Path.Join(directory, name), bytes);
        files[name] = new SnapshotFileEntry((ulong)bytes.Length, Convert.ToHexStringLower(SHA256.HashData(bytes)));
    }

    /// <summary>
    /// Writes the region's pages that hold data at their offsets (zero pages stay holes) into a file sized first, its
    /// 1 MiB chunks on as many threads as there are cores (each hashes its chunk for the <see cref="MemoryFileDigest"/>,
    /// an all-zero chunk costs one scan and no hash), each chunk's writeback started as soon as it is written (the disk
    /// works while the other chunks are hashed), then fsyncs it once; returns the digest and the pages written.
    /// </summary>
    private static (string Digest, ulong PagesWritten) WriteMemoryFile(string path, SnapshotMemoryRegion region, Action<ulong> progress)
    {
        using var stream = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, bufferSize: 0);
        stream.SetLength((long)region.Size);
        var file = stream.SafeFileHandle;
        var digest = new MemoryFileDigest(region.Size);
        long written = 0;
        var progressGate = new Lock();
        int page = (int)PageSize.Bytes;
        try
        {
            Parallel.For(0, digest.ChunkCount, new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount },
                // A lazy region's pages are copied out (a missing one comes from its store, never faulted in); other memory is read in place.
                () => region.Lazy is null ? null : new byte[MemoryFileDigest.ChunkBytes],
                (index, _, buffer) =>
                {
                    ulong offset = (ulong)index * MemoryFileDigest.ChunkBytes;
                    int length = digest.ChunkLength(index);
                    ReadOnlySpan<byte> chunk;
                    if (buffer is null) chunk = region.Memory.Span(offset, length);
                    else
                    {
                        ulong first = offset >> PageSize.Shift;
                        for (int i = 0; i < length / page; i++) region.ReadPage(first + (ulong)i, buffer.AsMemory(i * page, page));
                        chunk = buffer.AsSpan(0, length);
                    }
                    if (!chunk.ContainsAnyExcept((byte)0)) digest.SetZeroChunk(index);
                    else
                    {
                        digest.SetChunk(index, chunk);
                        Interlocked.Add(ref written, WriteDataRuns(file, chunk, (long)offset));
                        DurableFiles.StartWriteback(file, (long)offset, length);
                    }
                    lock (progressGate) progress((ulong)length);
                    return buffer;
                },
                _ => { });
        }
        catch (AggregateException e) when (e.InnerExceptions.Count == 1)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(e.InnerExceptions[0]).Throw();
        }
        stream.Flush(flushToDisk: true);
        return (digest.Finish(), (ulong)written);
    }

    // Runs of pages holding data, each one write at its offset; returns the pages written.
    private static long WriteDataRuns(Microsoft.Win32.SafeHandles.SafeFileHandle file, ReadOnlySpan<byte> chunk, long offset)
    {
        int page = (int)PageSize.Bytes, count = chunk.Length / page, run = -1;
        long written = 0;
        for (int i = 0; i <= count; i++)
        {
            bool data = i < count && chunk.Slice(i * page, page).ContainsAnyExcept((byte)0);
            if (data && run < 0) run = i;
            if (!data && run >= 0)
            {
                RandomAccess.Write(file, chunk[(run * page)..(i * page)], offset + (long)run * page);
                written += i - run;
                run = -1;
            }
        }
        return written;
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
