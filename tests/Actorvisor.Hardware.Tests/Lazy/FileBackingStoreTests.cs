using Actorvisor.Hardware.Lazy;

namespace Actorvisor.Hardware.Tests.Lazy;

public class FileBackingStoreTests
{
    [Fact]
    public async Task Pages_come_from_the_file_and_past_its_end_are_zero()
    {
        // 2.5 pages of random data, with page 1 all zeros.
        using var image = new TempImage(4096 * 2 + 2048, edit: b => Array.Clear(b, 4096, 4096));
        using var store = FileBackingStore.Open(image.Path);
        Assert.Equal(3UL, store.DataPages);
        var page = new byte[4096];

        Assert.Equal(PageContent.Data, await store.ReadPageAsync(0, page));
        Assert.Equal(image.Bytes.AsSpan(0, 4096).ToArray(), page);

        Assert.Equal(PageContent.Zero, await store.ReadPageAsync(1, page)); // zeros inside the file: zero page, no copy

        page.AsSpan().Fill(0xff);
        Assert.Equal(PageContent.Data, await store.ReadPageAsync(2, page)); // the short last page is zero-padded
        Assert.Equal(image.Bytes.AsSpan(8192, 2048).ToArray(), page.AsSpan(0, 2048).ToArray());
        Assert.True(page.AsSpan(2048).IndexOfAnyExcept((byte)0) < 0);

        Assert.Equal(PageContent.Zero, await store.ReadPageAsync(3, page));
        Assert.Equal(PageContent.Zero, await store.ReadPageAsync(1_000_000, page));
    }

    [Fact]
    public void A_missing_file_is_reported_with_its_path()
    {
        var path = $"/nonexistent/actorvisor-{Guid.NewGuid():N}.raw";
        var e = Assert.Throws<BackingStoreException>(() => FileBackingStore.Open(path));
        Assert.Contains(path, e.Message);
        Assert.Contains("no such file", e.Message);
    }

    [Fact]
    public void A_directory_is_reported_with_its_path()
    {
        var e = Assert.Throws<BackingStoreException>(() => FileBackingStore.Open(Path.GetTempPath()));
        Assert.Contains(Path.GetTempPath(), e.Message);
        Assert.Contains("directory", e.Message);
    }

    [Fact]
    public async Task A_buffer_that_is_not_one_page_is_refused()
    {
        using var image = new TempImage(4096);
        using var store = FileBackingStore.Open(image.Path);
        var e = await Assert.ThrowsAsync<ArgumentException>(async () => await store.ReadPageAsync(0, new byte[100]));
        Assert.Equal("page", e.ParamName);
    }

    [Fact]
    public async Task Reading_after_dispose_names_the_file_and_page()
    {
        using var image = new TempImage(4096);
        var store = FileBackingStore.Open(image.Path);
        store.Dispose();
        var e = await Assert.ThrowsAsync<BackingStoreException>(async () => await store.ReadPageAsync(0, new byte[4096]));
        Assert.Contains(image.Path, e.Message);
        Assert.Contains("page 0", e.Message);
    }
}
