namespace Actorvisor.Hardware.Lazy;

/// <summary>
/// Where the pages of lazy guest memory come from: page N of the store is the content of guest page N of the
/// region. Thread-safe: several workers read different pages at once.
/// </summary>
public interface IBackingStore
{
    /// <summary>A short description for errors and logs ("zero", "file /path/image.raw", "slow(1 ms) file ...").</summary>
    string Description { get; }

    /// <summary>
    /// Fills <paramref name="page"/> (4096 bytes) with page <paramref name="pageIndex"/>, or answers
    /// <see cref="PageContent.Zero"/> for an all-zero page. May complete synchronously (a file in the page cache)
    /// or later (a slow or remote store).
    /// </summary>
    /// <exception cref="BackingStoreException">the page cannot be read.</exception>
    ValueTask<PageContent> ReadPageAsync(ulong pageIndex, Memory<byte> page, CancellationToken cancellationToken = default);
}
