using Actorvisor.Hardware.Lazy;

namespace Actorvisor.Hardware.Tests.Lazy;

public class ZeroBackingStoreTests
{
    [Fact]
    public async Task Answers_zero_pages_or_clears_the_buffer()
    {
        var page = new byte[4096];
        page.AsSpan().Fill(0xcc);
        Assert.Equal(PageContent.Zero, await new ZeroBackingStore().ReadPageAsync(7, page));
        Assert.Equal(PageContent.Data, await new ZeroBackingStore(useZeroPageIoctl: false).ReadPageAsync(7, page));
        Assert.True(page.AsSpan().IndexOfAnyExcept((byte)0) < 0);
    }
}
