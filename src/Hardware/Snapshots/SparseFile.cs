using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Actorvisor.Hardware.Snapshots;

/// <summary>
/// Where a sparse file holds data: lseek(2) with SEEK_DATA, so that a reader skips holes without reading them. A file
/// system without SEEK_DATA (EINVAL) reports the whole file as data, which is always correct, only slower.
/// </summary>
public static partial class SparseFile
{
    private const int SeekData = 3;
    private const int Enxio = 6;

    [LibraryImport("libc", EntryPoint = "lseek", SetLastError = true)]
    private static partial long LSeek(int fd, long offset, int whence);

    /// <summary>
    /// True if <paramref name="file"/> may hold data in [<paramref name="offset"/>, <paramref name="offset"/> +
    /// <paramref name="length"/>); false only when that range is a hole (reads as zeros). Safe from several threads:
    /// only the call's result is used, never the file position it moves.
    /// </summary>
    public static bool HasData(SafeFileHandle file, long offset, long length)
    {
        ArgumentNullException.ThrowIfNull(file);
        bool added = false;
        try
        {
            file.DangerousAddRef(ref added);
            long next = LSeek((int)file.DangerousGetHandle(), offset, SeekData);
            if (next >= 0) return next < offset + length;
            // ENXIO: no data at or after offset. Anything else (EINVAL: no SEEK_DATA here): assume data.
            return Marshal.GetLastPInvokeError() != Enxio;
        }
        finally
        {
            if (added) file.DangerousRelease();
        }
    }
}
