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

    /// <summary>fsyncs the directory <paramref name="path"/>, so that the entries created or renamed in it survive a crash.</summary>
    public static unsafe void SyncDirectory(string path)
    {
        using var fd = Sys.Open(path, O_RDONLY | O_DIRECTORY);
        Sys.Check(fsync(fd.Fd), "fsync", path);
    }
}
