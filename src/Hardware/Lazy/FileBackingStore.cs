using Actorvisor.Hardware.Native;
using Microsoft.Win32.SafeHandles;

namespace Actorvisor.Hardware.Lazy;

/// <summary>
/// Pages from a raw memory image or snapshot file: page N is the 4 KiB at offset N * 4096. Pages past the end
/// of the file read as zero (a short last page is zero-padded), and all-zero pages are answered as
/// <see cref="PageContent.Zero"/> so they are mapped to the zero page rather than copied.
/// Reads are pread(2) on the calling thread: a file in the page cache answers in microseconds.
/// </summary>
public sealed class FileBackingStore : IBackingStore, IDisposable
{
    private readonly SafeFileHandle _file;

    private FileBackingStore(string path, SafeFileHandle file, long length)
    {
        Path = path;
        _file = file;
        Length = length;
    }

    /// <summary>Opens <paramref name="path"/> for reading.</summary>
    /// <exception cref="BackingStoreException">the file is missing, is a directory, or cannot be read; the message names the path.</exception>
    public static FileBackingStore Open(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        SafeFileHandle? file = null;
        try
        {
            file = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read);
            return new FileBackingStore(path, file, RandomAccess.GetLength(file));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            file?.Dispose();
            string why = e switch
            {
                FileNotFoundException or DirectoryNotFoundException => "no such file",
                UnauthorizedAccessException when Directory.Exists(path) => "it is a directory",
                _ => e.Message,
            };
            throw new BackingStoreException($"memory image '{path}' cannot be opened: {why}", e);
        }
    }

    /// <summary>The image file's path.</summary>
    public string Path { get; }

    /// <summary>The file's length in bytes when it was opened.</summary>
    public long Length { get; }

    /// <summary>Pages that hold file data (the last one possibly partial).</summary>
    public ulong DataPages => PageSize.RoundUp((ulong)Length) >> PageSize.Shift;

    /// <inheritdoc />
    public string Description => $"file {Path}";

    /// <inheritdoc />
    public ValueTask<PageContent> ReadPageAsync(ulong pageIndex, Memory<byte> page, CancellationToken cancellationToken = default)
    {
        if ((ulong)page.Length != PageSize.Bytes) throw new ArgumentException($"a page is {PageSize.Bytes} bytes, got {page.Length}", nameof(page));
        if (pageIndex >= DataPages) return ValueTask.FromResult(PageContent.Zero);
        var span = page.Span;
        long offset = (long)(pageIndex << PageSize.Shift);
        int filled = 0;
        try
        {
            while (filled < span.Length)
            {
                int n = RandomAccess.Read(_file, span[filled..], offset + filled);
                if (n == 0) break; // end of file: the rest is zero
                filled += n;
            }
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException)
        {
            throw new BackingStoreException($"memory image '{Path}': reading page {pageIndex} (offset 0x{offset:x}) failed: {e.Message}", e);
        }
        span[filled..].Clear();
        return ValueTask.FromResult(span.ContainsAnyExcept((byte)0) ? PageContent.Data : PageContent.Zero);
    }

    /// <summary>Closes the file.</summary>
    public void Dispose() => _file.Dispose();
}
