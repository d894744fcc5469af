using System.Diagnostics;
using Actorvisor.Hardware.Lazy;

namespace Actorvisor.Hardware.Tests.Lazy;

public class SlowBackingStoreTests
{
    [Fact]
    public async Task Every_read_waits_the_latency_and_then_returns_the_inner_data()
    {
        using var image = new TempImage(4096);
        using var file = FileBackingStore.Open(image.Path);
        var slow = new SlowBackingStore(file, TimeSpan.FromMilliseconds(30));
        var page = new byte[4096];
        var sw = Stopwatch.StartNew();
        Assert.Equal(PageContent.Data, await slow.ReadPageAsync(0, page));
        Assert.True(sw.Elapsed >= TimeSpan.FromMilliseconds(29), $"read took {sw.Elapsed.TotalMilliseconds} ms");
        Assert.Equal(image.Bytes, page);
        Assert.Equal(1, slow.Reads);
        Assert.Contains("slow(30 ms) file", slow.Description);
    }

    [Fact]
    public async Task Concurrent_reads_overlap_and_are_counted()
    {
        var slow = new SlowBackingStore(new ZeroBackingStore(), TimeSpan.FromMilliseconds(50));
        await Task.WhenAll(Enumerable.Range(0, 8).Select(i => slow.ReadPageAsync((ulong)i, new byte[4096]).AsTask()));
        // All eight were waiting out their latency at the same time (no wall-clock bound: a loaded machine stretches it).
        Assert.Equal(8, slow.MaxInFlight);
        Assert.Equal(0, slow.InFlight);
    }

    [Fact]
    public async Task A_page_marked_to_fail_fails_that_many_times_naming_the_page()
    {
        var slow = new SlowBackingStore(new ZeroBackingStore(), TimeSpan.Zero);
        slow.FailPage(3, times: 2);
        for (int i = 0; i < 2; i++)
        {
            var e = await Assert.ThrowsAsync<BackingStoreException>(async () => await slow.ReadPageAsync(3, new byte[4096]));
            Assert.Contains("page 3", e.Message);
        }
        Assert.Equal(PageContent.Zero, await slow.ReadPageAsync(3, new byte[4096]));
        Assert.Equal(PageContent.Zero, await slow.ReadPageAsync(4, new byte[4096]));
        Assert.Equal(2, slow.Failures);
    }

    [Fact]
    public async Task Random_failures_follow_the_probability()
    {
        var slow = new SlowBackingStore(new ZeroBackingStore(), TimeSpan.Zero, failureProbability: 0.25, seed: 7);
        int failed = 0;
        for (ulong i = 0; i < 1000; i++)
        {
            try { await slow.ReadPageAsync(i, new byte[4096]); }
            catch (BackingStoreException) { failed++; }
        }
        Assert.InRange(failed, 180, 320);
        Assert.Equal(failed, slow.Failures);
    }

    [Fact]
    public async Task A_cancelled_read_stops_waiting()
    {
        var slow = new SlowBackingStore(new ZeroBackingStore(), TimeSpan.FromSeconds(30));
        using var cts = new CancellationTokenSource();
        var read = slow.ReadPageAsync(0, new byte[4096], cts.Token).AsTask();
        cts.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => read.WaitAsync(TimeSpan.FromSeconds(5)));
        Assert.Equal(0, slow.InFlight);
    }

    [Fact]
    public void Bad_settings_are_refused_naming_the_parameter()
    {
        Assert.Equal("latency", Assert.Throws<ArgumentOutOfRangeException>(() => new SlowBackingStore(new ZeroBackingStore(), TimeSpan.FromMilliseconds(-1))).ParamName);
        Assert.Equal("failureProbability", Assert.Throws<ArgumentOutOfRangeException>(() => new SlowBackingStore(new ZeroBackingStore(), TimeSpan.Zero, 1.5)).ParamName);
    }
}
