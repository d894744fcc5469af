using Actorvisor.Hardware.Lazy;
using Actorvisor.Hardware.Native;

namespace Actorvisor.Hardware.Tests.Lazy;

/// <summary>
/// Discarding many scattered runs of a lazy region's pages at once (<see cref="LazyGuestMemory.Discard(ReadOnlySpan{ValueTuple{ulong, ulong}})"/>,
/// what a post-copy migration target does with pages gone stale): the listed pages are missing again in the kernel (a
/// UFFDIO_COPY installs them anew) and in the present bits, the others keep their content, and the kernel is asked in
/// batches of <see cref="BulkDontNeed.RangesPerCall"/> runs, not once a run.
/// </summary>
public class LazyGuestMemoryDiscardTests
{
    private const int Page = 4096, Pages = 4096;

    [Fact]
    public void Scattered_runs_go_missing_in_few_calls_and_the_other_pages_keep_their_content()
    {
        using var mem = LazyGuestMemory.Create(Pages * Page, new SynchronousPageResolver(new ZeroBackingStore()));
        var content = new byte[Page];
        for (ulong p = 0; p < Pages; p++)
        {
            content.AsSpan().Fill((byte)(p % 251 + 1));
            Assert.Equal(PageInstall.Installed, mem.TryInstall(p, content));
        }
        // Every third page, and one run of 10: 1,362 runs, more than one call takes.
        var runs = new List<(ulong FirstPage, ulong Count)>();
        for (ulong p = 0; p < 4000; p += 3) runs.Add((p, 1));
        runs.Add((4010, 10));
        var dropped = new HashSet<ulong>(runs.SelectMany(r => Enumerable.Range((int)r.FirstPage, (int)r.Count).Select(p => (ulong)p)));

        int calls = mem.Discard(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(runs));

        Assert.Equal(BulkDontNeed.UsesProcessMadvise ? (runs.Count + BulkDontNeed.RangesPerCall - 1) / BulkDontNeed.RangesPerCall : runs.Count, calls);
        Assert.Equal(Pages - dropped.Count, mem.PresentPages);
        for (ulong p = 0; p < Pages; p++)
        {
            Assert.Equal(!dropped.Contains(p), mem.IsPresent(p));
            if (dropped.Contains(p)) continue;
            // A page kept is still there with its content (present: reading it does not fault).
            Assert.True(mem.Memory.Span(p * Page, Page).IndexOfAnyExcept((byte)(p % 251 + 1)) < 0, $"page {p} lost its content");
        }
        // The kernel dropped them too: a copy into one installs it (a present page would answer EEXIST), a kept one is refused.
        content.AsSpan().Fill(0xEE);
        Assert.Equal(PageInstall.Installed, mem.TryInstall(3, content));
        Assert.Equal(PageInstall.Installed, mem.TryInstall(4019, content));
        Assert.Equal(PageInstall.AlreadyPresent, mem.TryInstall(4, content));
        Assert.Equal(0xEE, mem.Memory.Span(3 * Page, Page)[100]);
    }
}
