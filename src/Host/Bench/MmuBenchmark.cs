using System.Diagnostics;
using System.Globalization;
using Actorvisor.Hardware.Memory;
using Actorvisor.Hardware.Mmu;
using Actorvisor.Hardware.Native;

namespace Actorvisor.Host.Bench;

/// <summary>
/// `bench mmu`: the software MMU's two costs that matter for migration, each next to its baseline measured in
/// the same run on the same memory.
/// <list type="bullet">
/// <item>Write-protect faults resolved per second (every page present, read-only after a dirty-log harvest,
/// Host- and MMU-writable) on the lockless cmpxchg fast path (<see cref="SoftMmu.Fault"/>) and on the slow path
/// (<see cref="SoftMmu.FaultSlowPath"/>: mmu_lock read side, memslot and host page lookup, cmpxchg install), with
/// one thread and with two threads faulting disjoint halves of the slot.</item>
/// <item>A migration round, GetDirtyLog plus copying every dirty page into a shadow buffer, in GB/s of pages
/// copied, against a plain copy of the same pages.</item>
/// </list>
/// Each figure is the best of several rounds (the build machine is shared).
/// </summary>
public static class MmuBenchmark
{
    /// <summary>Runs the benchmark over a slot of <paramref name="pages"/> pages and returns its figures in print order.</summary>
    public static IReadOnlyList<(string Key, string Value)> Run(int pages, int rounds)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(pages, 1024);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(rounds);
        using var memory = HostMemory.Allocate((ulong)pages * PageSize.Bytes, name: "bench-mmu");
        // Populated, like the RAM of a guest that has run a while (an untouched page would map the shared zero page).
        for (int p = 0; p < pages; p++) memory.Write((ulong)p * PageSize.Bytes, (byte)1);
        var mmu = new SoftMmu();
        var slot = Memslot.For(0, 0, memory, MemslotFlags.LogDirtyPages);
        mmu.SetMemslots(MemslotSet.Of([slot]));
        var shadow = new byte[(ulong)pages * PageSize.Bytes];

        double fast = 0, slow = 0, fast2 = 0, slow2 = 0, harvest = 0, copy = 0;
        for (int round = 0; round < rounds; round++)
        {
            fast = Math.Max(fast, Faults(mmu, pages, threads: 1, slowPath: false));
            slow = Math.Max(slow, Faults(mmu, pages, threads: 1, slowPath: true));
            fast2 = Math.Max(fast2, Faults(mmu, pages, threads: 2, slowPath: false));
            slow2 = Math.Max(slow2, Faults(mmu, pages, threads: 2, slowPath: true));
            var (h, c) = HarvestAndCopy(mmu, memory, shadow, pages, round);
            harvest = Math.Max(harvest, h);
            copy = Math.Max(copy, c);
        }
        mmu.Dispose();
        string F(double v, string format) => v.ToString(format, CultureInfo.InvariantCulture);
        return
        [
            ("mmu.pages", pages.ToString(CultureInfo.InvariantCulture)),
            ("mmu.rounds", rounds.ToString(CultureInfo.InvariantCulture)),
            ("mmu.fast_per_s", F(fast, "0")),
            ("mmu.slow_per_s", F(slow, "0")),
            ("mmu.fast_over_slow", F(fast / slow, "0.00")),
            ("mmu.fast_per_s_2t", F(fast2, "0")),
            ("mmu.slow_per_s_2t", F(slow2, "0")),
            ("mmu.fast_over_slow_2t", F(fast2 / slow2, "0.00")),
            ("mmu.harvest_gbps", F(harvest, "0.00")),
            ("mmu.memcpy_gbps", F(copy, "0.00")),
            ("mmu.harvest_over_memcpy", F(harvest / copy, "0.00")),
        ];
    }

    /// <summary>
    /// Arms every page (present, read-only, clean: what a harvest leaves) outside the clock, then resolves one
    /// write fault per page on <paramref name="threads"/> threads; returns faults per second.
    /// </summary>
    private static double Faults(SoftMmu mmu, int pages, int threads, bool slowPath)
    {
        for (int p = 0; p < pages; p++) mmu.Fault((ulong)p * PageSize.Bytes, MmuAccess.Write);
        mmu.GetDirtyLog(0);
        long fastBefore = mmu.Counters.FastPathFixes, slowBefore = mmu.Counters.SlowPathFaults;

        // Each worker takes its own timestamps: from the first fault any of them resolves to the last.
        using var start = new Barrier(threads);
        var began = new long[threads];
        var ended = new long[threads];
        var workers = Enumerable.Range(0, threads).Select(t => new Thread(() =>
        {
            int first = pages / threads * t, end = t == threads - 1 ? pages : first + pages / threads;
            start.SignalAndWait();
            began[t] = Stopwatch.GetTimestamp();
            for (int p = first; p < end; p++)
            {
                ulong gpa = (ulong)p * PageSize.Bytes;
                var r = slowPath ? mmu.FaultSlowPath(gpa, MmuAccess.Write) : mmu.Fault(gpa, MmuAccess.Write);
                if (!r.IsResolved) throw new InvalidOperationException($"fault on page {p} was not resolved: {r}");
            }
            ended[t] = Stopwatch.GetTimestamp();
        }) { Name = $"bench-mmu-{t}" }).ToArray();
        foreach (var w in workers) w.Start();
        foreach (var w in workers) w.Join();
        var elapsed = Stopwatch.GetElapsedTime(began.Min(), ended.Max());

        // Each fault must have taken the path measured.
        var c = mmu.Counters;
        long taken = slowPath ? c.SlowPathFaults - slowBefore : c.FastPathFixes - fastBefore;
        if (taken != pages) throw new InvalidOperationException($"{taken} of {pages} faults took the {(slowPath ? "slow" : "fast")} path");
        return pages / elapsed.TotalSeconds;
    }

    /// <summary>
    /// Dirties every other page (outside the clock: a write fault plus a store, as a guest would), then times a
    /// migration round (GetDirtyLog, copy each dirty page) and a plain copy of the same pages. GB/s of pages copied.
    /// </summary>
    private static unsafe (double Harvest, double Copy) HarvestAndCopy(SoftMmu mmu, HostMemory memory, byte[] shadow, int pages, int round)
    {
        mmu.GetDirtyLog(0);   // what the fault measurements left dirty
        for (int p = 0; p < pages; p += 2)
        {
            ulong gpa = (ulong)p * PageSize.Bytes;
            mmu.Fault(gpa, MmuAccess.Write);
            memory.Write(gpa, (ulong)round << 32 | (uint)p);
        }
        var src = (byte*)memory.Address;
        fixed (byte* dst = shadow)
        {
            var clock = Stopwatch.StartNew();
            var dirty = mmu.GetDirtyLog(0);
            long copied = 0;
            foreach (var page in dirty.SetPages())
            {
                ulong offset = page * PageSize.Bytes;
                Buffer.MemoryCopy(src + offset, dst + offset, PageSize.Bytes, PageSize.Bytes);
                copied++;
            }
            clock.Stop();
            double harvestSeconds = clock.Elapsed.TotalSeconds;
            if (copied != (pages + 1) / 2) throw new InvalidOperationException($"the harvest reported {copied} dirty pages, expected {(pages + 1) / 2}");

            var list = dirty.SetPages().ToArray();
            clock.Restart();
            foreach (var page in list)
            {
                ulong offset = page * PageSize.Bytes;
                Buffer.MemoryCopy(src + offset, dst + offset, PageSize.Bytes, PageSize.Bytes);
            }
            clock.Stop();
            double bytes = copied * (double)PageSize.Bytes;
            return (bytes / harvestSeconds / 1e9, bytes / clock.Elapsed.TotalSeconds / 1e9);
        }
    }
}
