using System.Collections.Concurrent;
using System.Diagnostics;
using Actorvisor.Hardware.Lazy;
using Actorvisor.Hardware.Native;

namespace Actorvisor.Hardware.Tests.Lazy;

/// <summary>Issue 6 item 4 at the hardware level: no install after the unmap, installs racing teardown end cleanly.</summary>
public class LazyGuestMemoryTeardownTests
{
    private const int Page = 4096;
    private static readonly TimeSpan Generous = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task Installs_racing_dispose_never_reach_memory_after_the_unmap_and_never_throw()
    {
        const int rounds = 40, installers = 4, pages = 64;
        long installedTotal = 0, closedTotal = 0;
        for (int round = 0; round < rounds; round++)
        {
            var resolver = new SynchronousPageResolver(new ZeroBackingStore());
            var mem = LazyGuestMemory.Create(pages * Page, resolver, name: $"teardown-{round}");
            var errors = new ConcurrentQueue<Exception>();
            using var running = new CountdownEvent(installers);
            int disposed = 0;
            long notClosedAfterDispose = 0, installed = 0, closed = 0;

            var threads = Enumerable.Range(0, installers).Select(me => NativeTouch.OnThread($"installer{me}", () =>
            {
                var rnd = new Random(round * 100 + me);
                var data = new byte[Page];
                rnd.NextBytes(data);
                int calls = 0, callsAfterDispose = 0;
                while (callsAfterDispose < 20)
                {
                    bool startedAfterDispose = Volatile.Read(ref disposed) == 1;
                    ulong page = (ulong)rnd.Next(pages);
                    PageInstall r;
                    try
                    {
                        r = rnd.Next(4) switch
                        {
                            0 => mem.TryInstall(page, data),
                            1 => mem.TryInstallZero(page),
                            2 => resolver.Resolve(mem, page),
                            _ => mem.Wake(page) ? PageInstall.AlreadyPresent : PageInstall.RegionClosed,
                        };
                    }
                    catch (Exception e)
                    {
                        errors.Enqueue(e);
                        return;
                    }
                    if (r == PageInstall.Installed) Interlocked.Increment(ref installed);
                    if (r == PageInstall.RegionClosed)
                    {
                        Interlocked.Increment(ref closed);
                        Thread.Yield(); // let an install preempted inside the gate finish, so Dispose is not starved
                    }
                    if (startedAfterDispose)
                    {
                        callsAfterDispose++;
                        if (r != PageInstall.RegionClosed) Interlocked.Increment(ref notClosedAfterDispose);
                    }
                    if (++calls == 10) running.Signal();
                }
            })).ToArray();

            Assert.True(running.Wait(Generous));
            mem.Dispose();
            Volatile.Write(ref disposed, 1);
            await Task.WhenAll(threads).WaitAsync(Generous);

            Assert.Empty(errors);
            Assert.Equal(0, mem.InstallsAfterUnmap);
            Assert.Equal(0, notClosedAfterDispose);
            Assert.True(closed >= installers * 20);
            Assert.True(installed <= pages, $"{installed} installs into {pages} pages: a page was written twice");
            installedTotal += installed;
            closedTotal += closed;
        }
        Assert.True(installedTotal > 0);
    }

    [Fact]
    public async Task Dispose_is_prompt_while_a_fault_waits_on_a_slow_store_and_the_waiting_thread_is_released()
    {
        var slow = new SlowBackingStore(new ZeroBackingStore(), TimeSpan.FromSeconds(60));
        var resolver = new SynchronousPageResolver(slow);
        var mem = LazyGuestMemory.Create(4 * Page, resolver);
        using var sink = Sys.MemfdCreate("teardown-sink");
        long result = 0;
        // A kernel-mode access (as KVM makes): after the unmap it fails with EFAULT instead of killing the process.
        var toucher = NativeTouch.OnThread("kernel-toucher", () => result = LazyGuestMemoryTests.KernelRead(sink, mem.Address + Page, Page));
        await WaitUntil(() => slow.InFlight == 1); // the reader is inside the 60 s read for this fault

        var sw = Stopwatch.StartNew();
        mem.Dispose();
        sw.Stop();
        await toucher.WaitAsync(Generous);

        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(5), $"dispose took {sw.Elapsed}");
        Assert.False(mem.IsReadingFaults);
        Assert.Equal(0, slow.InFlight);
        Assert.Equal(0, resolver.Installed);
        Assert.Equal(0, mem.InstallsAfterUnmap);
        Assert.True(result == Page || result == -1, $"write returned {result}");
    }

    [Fact]
    public async Task A_stopped_reader_delivers_no_more_faults_and_a_direct_install_still_releases_the_thread()
    {
        var resolver = new SynchronousPageResolver(new ZeroBackingStore());
        using var mem = LazyGuestMemory.Create(2 * Page, resolver);
        Assert.True(mem.StopFaultReader(Generous));
        Assert.False(mem.IsReadingFaults);
        var seen = new byte[Page];
        var toucher = NativeTouch.OnThread("toucher", () => NativeTouch.Read(mem.Address, seen));
        var data = UserfaultfdTests.Filled(0x3c);
        // The fault stays pending: nobody reads it. Installing the page releases the thread.
        while (mem.TryInstall(0, data) != PageInstall.Installed) { }
        await toucher.WaitAsync(Generous);
        Assert.Equal(data, seen);
        Assert.Equal(0, mem.FaultsRead);
        Assert.Equal(0, resolver.Installed);
    }

    [Fact]
    public void After_dispose_everything_answers_closed()
    {
        var resolver = new SynchronousPageResolver(new ZeroBackingStore());
        var mem = LazyGuestMemory.Create(2 * Page, resolver);
        Assert.Equal(PageInstall.Installed, mem.TryInstallZero(1));
        mem.Dispose();
        mem.Dispose(); // idempotent
        Assert.True(mem.IsClosed);
        Assert.True(mem.Memory.IsDisposed);
        Assert.False(mem.IsReadingFaults);
        Assert.True(mem.Closing.IsCancellationRequested);
        Assert.Equal(PageInstall.RegionClosed, mem.TryInstall(0, new byte[Page]));
        Assert.Equal(PageInstall.RegionClosed, mem.TryInstallZero(0));
        Assert.Equal(PageInstall.RegionClosed, resolver.Resolve(mem, 0));
        Assert.False(mem.Wake(0));
    }

    private static async Task WaitUntil(Func<bool> condition)
    {
        var sw = Stopwatch.StartNew();
        while (!condition())
        {
            if (sw.Elapsed > Generous) throw new TimeoutException("condition not reached");
            await Task.Yield();
        }
    }
}
