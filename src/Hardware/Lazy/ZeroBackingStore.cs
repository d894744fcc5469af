using Actorvisor.Hardware.Native;

namespace Actorvisor.Hardware.Lazy;

/// <summary>Every page is zero: fresh guest RAM that costs nothing until touched.</summary>
public sealed class ZeroBackingStore : IBackingStore
{
    /// <summary>
    /// Creates the store. With <paramref name="useZeroPageIoctl"/> (the default) pages are answered as
    /// <see cref="PageContent.Zero"/> and installed with UFFDIO_ZEROPAGE; without it the buffer is cleared and
    /// installed with UFFDIO_COPY like any other data.
    /// </summary>
    public ZeroBackingStore(bool useZeroPageIoctl = true) => UsesZeroPageIoctl = useZeroPageIoctl;

    /// <summary>True if pages are answered as <see cref="PageContent.Zero"/>.</summary>
    public bool UsesZeroPageIoctl { get; }

    /// <inheritdoc />
    public string Description => UsesZeroPageIoctl ? "zero" : "zero (copied)";

    /// <inheritdoc />
    public ValueTask<PageContent> ReadPageAsync(ulong pageIndex, Memory<byte> page, CancellationToken cancellationToken = default)
    {
        if ((ulong)page.Length != PageSize.Bytes) throw new ArgumentException($"a page is {PageSize.Bytes} bytes, got {page.Length}", nameof(page));
        if (UsesZeroPageIoctl) return ValueTask.FromResult(PageContent.Zero);
        page.Span.Clear();
        return ValueTask.FromResult(PageContent.Data);
    }
}
