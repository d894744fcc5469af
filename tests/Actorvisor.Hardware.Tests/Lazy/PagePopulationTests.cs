using Actorvisor.Hardware.Lazy;
using Actorvisor.Hardware.Memory;
using Actorvisor.Hardware.Mmu;
using Actorvisor.Hardware.Native;

namespace Actorvisor.Hardware.Tests.Lazy;

/// <summary>
/// Whether a lazy page is populated, known without blocking (issue 15 point 4): the present bitmap kept with the
/// installs, asked through <see cref="IPagePopulation"/>, the memslot and the software MMU.
/// </summary>
public class PagePopulationTests
{
    private const int Page = 4096;
    private const ulong LazyBase = 0x100_0000;
    // Bounds a hang only; the race below takes well under a second here.
    private static readonly TimeSpan Generous = TimeSpan.FromSeconds(30);

    [Fact]
    public void Population_follows_installs_through_region_memslot_and_mmu_and_is_revoked_on_teardown()
    {
        var mem = LazyGuestMemory.Create(8 * Page, new SynchronousPageResolver(new ZeroBackingStore()), name: "population");
        using var plain = HostMemory.Allocate(2 * Page);
        using var mmu = new SoftMmu();
        var lazySlot = mem.ToMemslot(1, LazyBase);
        mmu.SetMemslots(MemslotSet.Of([Memslot.For(0, 0, plain), lazySlot]));
        nint start = mem.Address;
        nint At(int page) => start + page * Page;

        Assert.Same(mem, lazySlot.Population);
        Assert.All(Enumerable.Range(0, 8), p => Assert.False(mem.IsPopulated(At(p))));
        Assert.False(mmu.IsPopulated(LazyBase + 2 * Page + 100));

        Assert.Equal(PageInstall.Installed, mem.TryInstallZero(2));
        Assert.Equal(PageInstall.Installed, mem.TryInstall(3, new byte[Page]));
        Assert.Equal(PageInstall.AlreadyPresent, mem.TryInstallZero(3));
        Assert.Equal([2, 3], Enumerable.Range(0, 8).Where(p => mem.IsPopulated(At(p) + 17)));
        Assert.True(lazySlot.IsPopulated(LazyBase + 2 * Page));
        Assert.False(lazySlot.IsPopulated(LazyBase + 4 * Page));
        Assert.True(mmu.IsPopulated(LazyBase + 3 * Page + 4095));
        Assert.False(mmu.IsPopulated(LazyBase + 4 * Page));
        // Outside the region, plain memory, and no memory at all.
        Assert.False(mem.IsPopulated(mem.Address - Page));
        Assert.False(mem.IsPopulated(mem.Address + 8 * Page));
        Assert.True(mmu.IsPopulated(Page));
        Assert.False(mmu.IsPopulated(LazyBase - Page));

        // A zap drops the translation, not the host page.
        mmu.Zap(GfnRange.All);
        Assert.True(mmu.IsPopulated(LazyBase + 2 * Page));

        mem.Dispose();
        Assert.False(mem.IsPopulated(At(2)));
        Assert.False(mmu.IsPopulated(LazyBase + 3 * Page));
        Assert.True(mem.IsPresent(2));   // the install history stays: only population is revoked
    }

    [Fact]
    public async Task A_page_seen_populated_is_readable_without_a_fault_while_installs_race_the_queries()
    {
        const int pages = 1024;
        var sink = new RecordingSink(new SynchronousPageResolver(new ZeroBackingStore()));
        using var mem = LazyGuestMemory.Create(pages * Page, sink, name: "population-race");
        nint At(int page) => mem.Address + page * Page;
        var go = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        // Installers stop half-way until the query thread has read a page, so queries surely overlap installs.
        using var firstRead = new ManualResetEventSlim();

        // Two installers fill alternate pages in opposite orders; each page's first word is its number + 1.
        var installers = Enumerable.Range(0, 2).Select(k => NativeTouch.OnThread($"installer{k}", () =>
        {
            go.Task.Wait();
            var data = new byte[Page];
            for (int n = 0; n < pages / 2; n++)
            {
                if (n == pages / 4) firstRead.Wait();
                int page = k == 0 ? 2 * n : pages - 1 - 2 * n;
                BitConverter.TryWriteBytes(data, (ulong)page + 1);
                Assert.Equal(PageInstall.Installed, mem.TryInstall((ulong)page, data));
            }
        })).ToArray();

        // The query thread reads a page only after it saw it populated, and checks that populated stays populated.
        int queries = 0, readBeforeAllInstalled = 0;
        string? error = null;
        var query = NativeTouch.OnThread("query", () =>
        {
            var seen = new bool[pages];
            var word = new byte[8];
            int left = pages;
            go.SetResult();
            while (left > 0 && error is null)
            {
                for (int p = 0; p < pages; p++)
                {
                    queries++;
                    bool populated = mem.IsPopulated(At(p));
                    if (seen[p])
                    {
                        if (!populated) error = $"page {p} went from populated to missing";
                        continue;
                    }
                    if (!populated) continue;
                    NativeTouch.Read(At(p), word);
                    if (BitConverter.ToUInt64(word) != (ulong)p + 1) error = $"page {p} populated but holds {BitConverter.ToUInt64(word)}";
                    if (installers.Any(t => !t.IsCompleted)) readBeforeAllInstalled++;
                    seen[p] = true;
                    left--;
                    firstRead.Set();
                }
            }
        });

        await Task.WhenAll([.. installers, query]).WaitAsync(Generous);
        Assert.Null(error);
        // Every read hit a present page: no read ever faulted to the reader (installs do not fault).
        Assert.Equal(0, mem.FaultsRead);
        Assert.Empty(sink.Faults);
        Assert.Equal(pages, mem.PresentPages);
        Assert.True(queries > pages, $"{queries} queries");
        Assert.True(readBeforeAllInstalled > 0, "the queries never overlapped the installs: no race was run");
    }
}
