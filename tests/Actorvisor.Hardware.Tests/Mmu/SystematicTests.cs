using System.Collections.Concurrent;
using Actorvisor.Hardware.Memory;
using Actorvisor.Hardware.Mmu;
using Actorvisor.Hardware.Native;
using Actorvisor.Hardware.Tests.Coyote;
using Microsoft.Coyote;
using Microsoft.Coyote.Runtime;
using Microsoft.Coyote.SystematicTesting;
using Xunit.Abstractions;

namespace Actorvisor.Hardware.Tests.Mmu;

/// <summary>
/// Systematic concurrency tests with Microsoft.Coyote: the fast path (a vCPU writing through its TLB)
/// against GetDirtyLog / ClearDirtyLog, zaps and aging. No binary rewriting is needed: each concurrent
/// party runs on a thread registered with Coyote's Operation API, the MMU's hook points (every SPTE read and
/// atomic update, bitmap access, flush request) are Coyote scheduling points, and the MMU's two blocking
/// waits (mmu_lock contention, TLB flush acknowledgements) become Operation.PauseUntil, so the Coyote
/// scheduler decides every interleaving at SPTE granularity and replays failures.
/// Property: migration rounds (harvest, copy dirty pages) followed by a last round after the guest stops
/// leave the shadow equal to guest memory — any lost dirty bit, stale writable translation or missed flush
/// shows up as a page that differs.
/// </summary>
public class SystematicTests(ITestOutputHelper output)
{
    private const ulong Pages = 2;

    /// <summary>A harvest strategy: returns the pages to copy (and has re-protected them).</summary>
    private delegate DirtyBitmap Harvest(SoftMmu mmu);

    private static DirtyBitmap GetDirtyLog(SoftMmu mmu) => mmu.GetDirtyLog(0);

    private static DirtyBitmap GetAndClearDirtyLog(SoftMmu mmu)
    {
        var dirty = mmu.GetDirtyLog(0);
        mmu.ClearDirtyLog(0, 0, dirty);
        return dirty;
    }

    /// <summary>
    /// The harvest locking.rst warns about: re-protect with a store computed from a stale read instead of a
    /// cmpxchg loop, so a fast-path fix between the read and the store is overwritten with its Dirty bit.
    /// </summary>
    private static DirtyBitmap NonAtomicHarvest(SoftMmu mmu)
    {
        var table = mmu.TableOf(0)!;
        var result = new DirtyBitmap(table.Pages);
        for (ulong i = 0; i < table.Pages; i++)
        {
            var old = table.Read(i);
            if (!old.IsWritable && !old.IsDirty) continue;
            table.Exchange(i, old.Without(SpteFlags.Writable | SpteFlags.Dirty));   // stands for "*spte = new"
            if (old.IsDirty) result.Set(i);
        }
        mmu.Tlb.FlushAll();
        return result;
    }

    private static void Scenario(Harvest harvest, bool manualProtect)
    {
        var hooks = new MmuHooks
        {
            At = (_, _) => SchedulingPoint.Interleave(),
            WaitUntil = condition => Operation.PauseUntil(condition),
        };
        using var memory = HostMemory.Allocate(Pages * PageSize.Bytes);
        using var mmu = new SoftMmu(new SoftMmuOptions { ManualProtect = manualProtect }, hooks);
        mmu.SetMemslots(MemslotSet.Of([Memslot.For(0, MmuTestVm.Base, memory, MemslotFlags.LogDirtyPages)]));
        using var tlb = new SoftTlb(mmu, 0);
        var shadow = memory.Span(0, (int)(Pages * PageSize.Bytes)).ToArray();
        var errors = new ConcurrentQueue<string>();

        void Round()
        {
            foreach (var page in harvest(mmu).SetPages())
                memory.Span(page * PageSize.Bytes, (int)PageSize.Bytes).CopyTo(shadow.AsSpan((int)(page * PageSize.Bytes)));
        }

        ControlledThreads.Run(errors,
            () =>
            {
                // The guest: writes alternate pages; between instructions it leaves guest mode when kicked.
                tlb.EnterGuest();
                for (ulong k = 1; k <= 4; k++)
                {
                    if (tlb.IsKicked) { tlb.ExitGuest(); tlb.EnterGuest(); }
                    if (!tlb.TryWrite(MmuTestVm.Gpa(k % Pages, 8 * k), k, out var failure)) errors.Enqueue($"write {k} failed: {failure}");
                    SchedulingPoint.Interleave();
                }
                tlb.ExitGuest();
            },
            () => { Round(); Round(); },
            () =>
            {
                mmu.AgePages(new GfnRange(MmuTestVm.Gfn(0), 1));
                mmu.Zap(new GfnRange(MmuTestVm.Gfn(1), 1));
            });

        Round();   // the guest has stopped: the last round
        var live = memory.Span(0, shadow.Length);
        for (ulong p = 0; p < Pages; p++)
            if (!live.Slice((int)(p * PageSize.Bytes), (int)PageSize.Bytes).SequenceEqual(shadow.AsSpan((int)(p * PageSize.Bytes), (int)PageSize.Bytes)))
                errors.Enqueue($"page {p} lost: guest memory differs from the migrated copy");
        Microsoft.Coyote.Specifications.Specification.Assert(errors.IsEmpty, string.Join("; ", errors));
    }

    /// <summary>
    /// A slow-path fault against an invalidation that replaces the host page between its start and its end (what
    /// an mmu notifier invalidation does). Property: a present SPTE comes from a host lookup that saw the page the
    /// host has now. The lookup is the fault-in; the hook after it records the host page version it saw.
    /// </summary>
    private static void FaultVsInvalidate(bool disableRetryCheck)
    {
        int hostVersion = 0, seen = -1;
        var hooks = new MmuHooks
        {
            At = (point, _) =>
            {
                if (point == MmuHookPoint.SlowPathAfterFaultIn) Volatile.Write(ref seen, Volatile.Read(ref hostVersion));
                SchedulingPoint.Interleave();
            },
            WaitUntil = condition => Operation.PauseUntil(condition),
        };
        using var memory = HostMemory.Allocate(Pages * PageSize.Bytes);
        using var mmu = new SoftMmu(new SoftMmuOptions(), hooks);
        if (disableRetryCheck) mmu.DisableInvalidationRetryForTest();
        mmu.SetMemslots(MemslotSet.Of([Memslot.For(0, MmuTestVm.Base, memory)]));
        var range = new GfnRange(MmuTestVm.Gfn(0), 1);
        var errors = new ConcurrentQueue<string>();

        ControlledThreads.Run(errors,
            () =>
            {
                var r = mmu.Fault(MmuTestVm.Gpa(0), MmuAccess.Read);
                if (!r.IsResolved) errors.Enqueue($"fault not resolved: {r.Outcome}");
            },
            () =>
            {
                mmu.InvalidateRangeStart(range);
                Interlocked.Increment(ref hostVersion);   // the host page is replaced while no SPTE may map it
                SchedulingPoint.Interleave();
                mmu.InvalidateRangeEnd(range);
            });

        if (mmu.ReadSpte(MmuTestVm.Gpa(0)).IsPresent && Volatile.Read(ref seen) != hostVersion)
            errors.Enqueue($"stale translation: installed from host page version {seen}, the host now has version {hostVersion}");
        Microsoft.Coyote.Specifications.Specification.Assert(errors.IsEmpty, string.Join("; ", errors));
    }

    private TestReport Explore(Action test, uint iterations)
    {
        var configuration = Configuration.Create()
            .WithTestingIterations(iterations)
            .WithRandomGeneratorSeed(20241117)
            .WithPartiallyControlledConcurrencyAllowed(false)
            .WithTelemetryEnabled(false);
        using var engine = TestingEngine.Create(configuration, test);
        engine.Run();
        var report = engine.TestReport;
        output.WriteLine($"iterations {iterations}: bugs {report.NumOfFoundBugs}, max operations {report.MaxControlledOperations}, max steps {report.MaxExploredFairSteps}");
        foreach (var bug in report.BugReports) output.WriteLine(bug);
        return report;
    }

    [Fact]
    public void Fast_path_vs_get_dirty_log_zap_and_aging_loses_no_write()
    {
        var report = Explore(() => Scenario(GetDirtyLog, manualProtect: false), 300);
        Assert.True(report.MaxControlledOperations >= 4, "the scenario did not run under Coyote's control");
        Assert.Equal(0, report.NumOfFoundBugs);
    }

    [Fact]
    public void Fast_path_vs_manual_protect_clear_zap_and_aging_loses_no_write()
    {
        var report = Explore(() => Scenario(GetAndClearDirtyLog, manualProtect: true), 300);
        Assert.Equal(0, report.NumOfFoundBugs);
    }

    [Fact]
    public void A_non_atomic_reprotect_is_caught()
    {
        // The control: the same exploration finds the lost dirty bit when re-protection is not atomic.
        var report = Explore(() => Scenario(NonAtomicHarvest, manualProtect: false), 300);
        Assert.True(report.NumOfFoundBugs > 0, "Coyote did not find the lost dirty bit in the non-atomic harvest");
        Assert.Contains(report.BugReports, b => b.Contains("lost"));
    }

    [Fact]
    public void Slow_fault_vs_invalidation_installs_no_stale_translation()
    {
        var report = Explore(() => FaultVsInvalidate(disableRetryCheck: false), 300);
        Assert.True(report.MaxControlledOperations >= 2, "the scenario did not run under Coyote's control");
        Assert.Equal(0, report.NumOfFoundBugs);
    }

    [Fact]
    public void Without_the_retry_check_a_stale_translation_is_caught()
    {
        // The control: the same exploration finds the stale install when the slow path does not re-check.
        var report = Explore(() => FaultVsInvalidate(disableRetryCheck: true), 300);
        Assert.True(report.NumOfFoundBugs > 0, "Coyote did not find the stale install without the retry check");
        Assert.Contains(report.BugReports, b => b.Contains("stale translation"));
    }
}
