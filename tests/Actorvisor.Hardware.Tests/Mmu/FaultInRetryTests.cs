using System.Collections.Concurrent;
using Actorvisor.Hardware.Lazy;
using Actorvisor.Hardware.Memory;
using Actorvisor.Hardware.Mmu;
using Actorvisor.Hardware.Native;
using Actorvisor.Hardware.Tests.Lazy;

namespace Actorvisor.Hardware.Tests.Mmu;

/// <summary>
/// The slow path as KVM's kvm_faultin_pfn does it: the host page is faulted in with no lock held, so zaps,
/// write-protects and harvests go on while a lazy page is still on its way, and an invalidation that ran
/// meanwhile makes the fault look the page up again (mmu_invalidate_seq / mmu_invalidate_in_progress).
/// </summary>
public class FaultInRetryTests
{
    private const ulong Pages = 8, Waiting = 3, Resident = 5, Elsewhere = 6;
    // Every await here ends on an event; this only turns a hang (the old slow path held the read side across
    // the fault-in, so a zap waited for the page forever) into a failure. Measured: each step takes < 5 ms.
    private static readonly TimeSpan Generous = TimeSpan.FromSeconds(20);

    /// <summary>Records each fault and installs nothing: the page stays missing until the test installs it.</summary>
    private sealed class HeldSink : IPageFaultSink
    {
        public TaskCompletionSource<PageFault> First { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public ConcurrentQueue<PageFault> Faults { get; } = new();

        public void OnPageFault(LazyGuestMemory region, PageFault fault)
        {
            Faults.Enqueue(fault);
            First.TrySetResult(fault);
        }
    }

    private sealed record Outcome(FaultResult Result, MmuCounters Counters, int FaultIns, long SequenceAtLastFaultIn, long FinalSequence, Spte Spte, DirtyBitmap Harvested);

    /// <summary>
    /// A vCPU's read fault on a missing lazy page, held missing while a zap of it, a write-protect, a dirty-log
    /// harvest and a memslot change run on another thread; then the page arrives.
    /// </summary>
    private static async Task<Outcome> FaultWhileInvalidated(bool disableRetryCheck)
    {
        var sink = new HeldSink();
        using var lazy = LazyGuestMemory.Create(Pages * PageSize.Bytes, sink, name: "fault-in-retry");
        using var plain = HostMemory.Allocate(PageSize.Bytes);
        int faultIns = 0;
        long sequenceAtFaultIn = -1;
        SoftMmu? mmuRef = null;
        var hooks = new MmuHooks
        {
            At = (point, _) =>
            {
                if (point != MmuHookPoint.SlowPathBeforeFaultIn) return;
                Interlocked.Increment(ref faultIns);
                Volatile.Write(ref sequenceAtFaultIn, mmuRef!.InvalidateSequence);
            },
        };
        using var mmu = new SoftMmu(new SoftMmuOptions(), hooks);
        mmuRef = mmu;
        if (disableRetryCheck) mmu.DisableInvalidationRetryForTest();
        mmu.SetMemslots(MemslotSet.Of([lazy.ToMemslot(0, MmuTestVm.Base, MemslotFlags.LogDirtyPages)]));
        // A resident dirty page for the write-protect and the harvest to act on.
        Assert.Equal(PageInstall.Installed, lazy.TryInstallZero(Resident));
        Assert.Equal(FaultOutcome.SlowInstalled, mmu.Fault(MmuTestVm.Gpa(Resident), MmuAccess.Write).Outcome);
        int before = faultIns;

        FaultResult result = default;
        var vcpu = NativeTouch.OnThread("vcpu-fault", () => result = mmu.Fault(MmuTestVm.Gpa(Waiting), MmuAccess.Read));
        var fault = await sink.First.Task.WaitAsync(Generous);
        Assert.Equal(Waiting, fault.PageIndex);
        Assert.Equal(0, mmu.Lock.CurrentReaders);   // the fault-in holds no lock

        await Task.Run(() => mmu.Zap(new GfnRange(MmuTestVm.Gfn(Waiting), 2))).WaitAsync(Generous);
        Assert.False(vcpu.IsCompleted);
        await Task.Run(() => mmu.WriteProtect(new GfnRange(MmuTestVm.Gfn(Resident), 1), WriteProtectReason.DirtyLog)).WaitAsync(Generous);
        var harvested = await Task.Run(() => mmu.GetDirtyLog(0)).WaitAsync(Generous);
        await Task.Run(() => mmu.SetMemslots(mmu.Memslots.With(Memslot.For(1, MmuTestVm.Base + 0x10_0000, plain)))).WaitAsync(Generous);
        Assert.Equal(2, mmu.Memslots.Count);
        Assert.False(vcpu.IsCompleted);
        Assert.Empty(sink.Faults.Skip(1));   // still the one fault, still outstanding

        Assert.Equal(PageInstall.Installed, lazy.TryInstallZero(Waiting));
        await vcpu.WaitAsync(Generous);
        return new Outcome(result, mmu.Counters, faultIns - before, Volatile.Read(ref sequenceAtFaultIn), mmu.InvalidateSequence,
            mmu.ReadSpte(MmuTestVm.Gpa(Waiting)), harvested);
    }

    [Fact]
    public async Task Zap_write_protect_harvest_and_memslot_change_proceed_while_a_fault_in_waits_and_the_fault_then_retries()
    {
        var o = await FaultWhileInvalidated(disableRetryCheck: false);
        Assert.True(o.Harvested.IsSet(Resident), "the harvest ran and reported the resident dirty page");
        Assert.Equal(FaultOutcome.SlowInstalled, o.Result.Outcome);
        Assert.True(o.Spte.IsPresent);
        // The zap and the memslot change ended after the fault read the sequence number: one retry (both are seen at
        // once), one more lookup, and the installed SPTE comes from a lookup that started after the last invalidation.
        Assert.Equal(1, o.Counters.FaultRetries);
        Assert.Equal(2, o.FaultIns);
        Assert.Equal(o.FinalSequence, o.SequenceAtLastFaultIn);
    }

    [Fact]
    public async Task Without_the_retry_check_the_fault_installs_what_it_looked_up_before_the_zap()
    {
        // Negative control for the test above: the same run with the check switched off installs a translation from
        // a lookup that the zap invalidated, and the assertions that test makes fail.
        var o = await FaultWhileInvalidated(disableRetryCheck: true);
        Assert.True(o.Spte.IsPresent);
        Assert.Equal(0, o.Counters.FaultRetries);
        Assert.Equal(1, o.FaultIns);
        Assert.True(o.SequenceAtLastFaultIn < o.FinalSequence, $"lookup at sequence {o.SequenceAtLastFaultIn}, invalidated up to {o.FinalSequence}");
    }

    [Fact]
    public async Task A_fault_in_an_invalidation_in_progress_installs_nothing_until_it_ends()
    {
        var reachedWait = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var vm = MmuTestVm.Create(Pages);
        // The MMU's waits go through this hook: it tells the test the fault is waiting, then spins on the condition.
        vm.Hooks.WaitUntil = condition =>
        {
            reachedWait.TrySetResult();
            SpinWait.SpinUntil(condition);
        };
        var range = new GfnRange(MmuTestVm.Gfn(Waiting), 1);
        Assert.Equal(FaultOutcome.SlowInstalled, vm.Mmu.Fault(MmuTestVm.Gpa(Waiting), MmuAccess.Read).Outcome);
        long sequence = vm.Mmu.InvalidateSequence;

        vm.Mmu.InvalidateRangeStart(range);
        Assert.True(vm.Spte(Waiting).IsEmpty);
        Assert.Equal(1, vm.Mmu.InvalidationsInProgress);
        Assert.Equal(sequence, vm.Mmu.InvalidateSequence);   // the number moves at the end
        Assert.False(vm.Mmu.TryInstallWholeSlot(vm.Slot, out _));

        var vcpu = NativeTouch.OnThread("vcpu-fault", () => vm.Mmu.Fault(MmuTestVm.Gpa(Waiting), MmuAccess.Read));
        await reachedWait.Task.WaitAsync(Generous);
        // Outside the range faults go on.
        Assert.Equal(FaultOutcome.SlowInstalled, vm.Mmu.Fault(MmuTestVm.Gpa(Elsewhere), MmuAccess.Read).Outcome);
        Assert.True(vm.Spte(Waiting).IsEmpty);
        Assert.False(vcpu.IsCompleted);

        vm.Mmu.InvalidateRangeEnd(range);
        await vcpu.WaitAsync(Generous);
        Assert.True(vm.Spte(Waiting).IsPresent);
        Assert.Equal(0, vm.Mmu.InvalidationsInProgress);
        Assert.Equal(sequence + 1, vm.Mmu.InvalidateSequence);
        Assert.True(vm.Mmu.TryInstallWholeSlot(vm.Slot, out _));
    }

    [Fact]
    public void An_unmatched_invalidate_end_is_refused()
    {
        using var vm = MmuTestVm.Create(2);
        Assert.Throws<InvalidOperationException>(() => vm.Mmu.InvalidateRangeEnd(new GfnRange(MmuTestVm.Gfn(0), 1)));
    }

    [Fact]
    public void Zap_and_memslot_changes_each_end_one_invalidation()
    {
        using var vm = MmuTestVm.Create(2);
        long s = vm.Mmu.InvalidateSequence;
        vm.Mmu.Zap(new GfnRange(MmuTestVm.Gfn(0), 1));
        Assert.Equal(s + 1, vm.Mmu.InvalidateSequence);
        vm.EnableDirtyLog();
        Assert.Equal(s + 2, vm.Mmu.InvalidateSequence);
        // A write-protect keeps the host page: the slow path computes writability under the lock, no retry needed.
        vm.Mmu.WriteProtect(new GfnRange(MmuTestVm.Gfn(0), 1), WriteProtectReason.Host);
        Assert.Equal(s + 2, vm.Mmu.InvalidateSequence);
    }

    [Fact]
    public void The_slow_path_refuses_to_run_under_mmu_lock()
    {
        // AssertNotHeld at the fault-in: a fault started while holding mmu_lock (even another MMU's) would block
        // on a backing store with the lock held.
        using var vm = MmuTestVm.Create(2);
        using var other = MmuTestVm.Create(2);
        using (other.Mmu.Lock.EnterRead())
        {
            var e = Assert.Throws<MmuLockViolationException>(() => vm.Mmu.Fault(MmuTestVm.Gpa(1), MmuAccess.Read));
            Assert.Contains("fault a guest page's host page in", e.Message);
        }
        Assert.Equal(FaultOutcome.SlowInstalled, vm.Mmu.Fault(MmuTestVm.Gpa(1), MmuAccess.Read).Outcome);
    }
}
