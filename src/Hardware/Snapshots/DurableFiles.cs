using Actorvisor.Hardware.Native;
using static Tmds.Linux.LibC;

namespace Actorvisor.Hardware.Snapshots;

/// <summary>Makes files and directory entries durable: fsync(2) of a written file, and of a directory after entries were created or renamed in it.</summary>
public static class DurableFiles
{
    /// <summary>Writes <paramref name="bytes"/> to a new file <paramref name="path"/> and fsyncs it.</summary>
    public static void WriteNew(string path, ReadOnlySpan<byte> bytes)
    {
        using var stream = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, bufferSize: 0);
        stream.Write(bytes);
        stream.Flush(flushToDisk: true);
    }

    /// <summary>
    /// Starts writeback of a just-written range of <paramref name="file"/> without waiting for it
    /// (sync_file_range(2) with SYNC_FILE_RANGE_WRITE): the disk works while the writer goes on, so the final fsync
    /// finds little left. Durability still comes only from that fsync, which also reports any write error; so a range
    /// the kernel refuses to start (a file system without writeback) only costs speed and is not an error.
    /// </summary>
    public static void StartWriteback(Microsoft.Win32.SafeHandles.SafeFileHandle file, long offset, long length)
    {
        bool added = false;
        file.DangerousAddRef(ref added);
        try
        {
            _ = sync_file_range((int)file.DangerousGetHandle(), offset, length, (uint)SYNC_FILE_RANGE_WRITE);
        }
        finally
        {
            if (added) file.DangerousRelease();
        }
    }

    /// <summary>fsyncs the directory <paramref name="path"/>, so that the entries created or renamed in it survive a crash.</summary>
    public static unsafe void SyncDirectory(string path)
    {
        using var fd = Sys.Open(path, O_RDONLY | O_DIRECTORY);
        Sys.Check(fsync(fd.Fd), "fsync", path);
    }
}
