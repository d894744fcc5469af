using Actorvisor.Hardware.Memory;
using Actorvisor.Hardware.Mmu;
using Actorvisor.Hardware.Native;

namespace Actorvisor.Hardware.Tests.Mmu;

/// <summary>
/// One deterministic test per hazard in locking.rst section 2, with the interleaving forced through the
/// MMU's hook points (the hook runs "CPU 1" in the window of "CPU 0").
/// </summary>
public class HazardTests
{
    private static readonly TimeSpan Generous = TimeSpan.FromSeconds(10);

    /// <summary>Runs <paramref name="cpu1"/> once, the first time <paramref name="point"/> is reached for <paramref name="gfn"/>.</summary>
    private static void Once(MmuTestVm vm, MmuHookPoint point, ulong gfn, Action cpu1)
    {
        bool done = false;
        vm.Hooks.At = (p, g) =>
        {
            if (done || p != point || g != gfn) return;
            done = true;
            cpu1();
        };
    }

    // locking.rst "Dirty bit tracking": CPU 0 reads a read-only SPTE in mmu_spte_clear_track_bits and decides
    // it cannot be dirty; CPU 1 makes it writable on the fast path and the guest writes; CPU 0 then clears
    // the SPTE. A plain store would lose the dirty bit; the xchg returns it.
    [Fact]
    public void Lost_dirty_bit_zap_uses_xchg_so_a_concurrent_fast_path_write_is_logged()
    {
        using var vm = MmuTestVm.Create(1, MemslotFlags.LogDirtyPages);
        vm.Mmu.Fault(MmuTestVm.Gpa(0), MmuAccess.Read);          // spte.W = 0, spte.Accessed = 1
        Assert.False(vm.Spte(0).IsWritable);
        FaultResult cpu1 = default;
        Once(vm, MmuHookPoint.SpteUpdate, MmuTestVm.Gfn(0), () =>
        {
            // CPU 1 runs in the zap's window. It holds no lock, so this also shows the fast path needs none
            // (the slow path would throw: this thread holds the write side).
            cpu1 = vm.GuestWrite(0, 0x1234);
        });
        vm.Mmu.Zap(new GfnRange(MmuTestVm.Gfn(0), 1));
        Assert.Equal(FaultOutcome.FastFixed, cpu1.Outcome);
        Assert.True(vm.Spte(0).IsEmpty);
        Assert.Equal([0UL], vm.Mmu.GetDirtyLog(0).SetPages());
    }

    [Fact]
    public void Lost_dirty_bit_the_same_interleaving_loses_the_write_with_a_non_atomic_clear()
    {
        // The control for the test above: the update locking.rst warns about, run through the same forced
        // interleaving, misses the write. This is what the xchg in SoftMmu prevents.
        using var vm = MmuTestVm.Create(1, MemslotFlags.LogDirtyPages);
        vm.Mmu.Fault(MmuTestVm.Gpa(0), MmuAccess.Read);
        var table = vm.Table;
        var old = table.Read(0);                                  // CPU 0: old_spte = *spte
        vm.GuestWrite(0, 0x1234);                                 // CPU 1: spte.W = 1; spte.Dirty = 1
        if (old.IsAccessed && !old.IsWritable)                    // CPU 0: 'if' condition is satisfied
            table.Exchange(0, Spte.Empty);                        //   spte = 0ull (the value it held is ignored)
        if (old.IsDirty) table.DirtyLog!.Set(0);                  // transfers the stale old_spte.Dirty (0)
        Assert.Equal(0UL, vm.Mmu.GetDirtyLog(0).Count());         // OOPS: the write is lost
        Assert.Equal(0x1234UL, vm.Memory.Read<ulong>(0));
    }

    [Fact]
    public void Lost_dirty_bit_write_protect_retries_its_cmpxchg_when_the_fast_path_raced_it()
    {
        using var vm = MmuTestVm.Create(1, MemslotFlags.LogDirtyPages);
        // A read-only SPTE that is still dirty: written, aged, then read back in on the fast path.
        vm.GuestWrite(0, 1);
        vm.Mmu.AgePages(new GfnRange(MmuTestVm.Gfn(0), 1));
        vm.Mmu.Fault(MmuTestVm.Gpa(0), MmuAccess.Read);
        Assert.True(vm.Spte(0) is { IsWritable: false, IsDirty: true });
        int commits = 0;
        vm.Hooks.At = (p, g) =>
        {
            if (p != MmuHookPoint.ProtectBeforeCommit) return;
            if (commits++ == 0) vm.GuestWrite(0, 2);              // CPU 1 sets W between CPU 0's read and cmpxchg
        };
        vm.Mmu.WriteProtect(new GfnRange(MmuTestVm.Gfn(0), 1), WriteProtectReason.DirtyLog);
        Assert.Equal(2, commits);                                 // the first cmpxchg failed and was retried
        Assert.False(vm.Spte(0).IsWritable);                      // so the page really is read-only now
        Assert.Equal([0UL], vm.Mmu.GetDirtyLog(0).SetPages());
    }

    // locking.rst "The mapping from gfn to pfn": the fast path read the SPTE, then the mapping changed under
    // it. For this MMU the gfn->pfn mapping can only change by moving the memslot to other host memory, which
    // zaps the old table under the write side and retires it, so the in-flight cmpxchg compares against an
    // empty entry and fails: the stale frame is never installed.
    [Fact]
    public void Aba_a_memslot_move_while_a_fast_path_cmpxchg_is_in_flight_installs_no_stale_frame()
    {
        using var vm = MmuTestVm.Create(2, MemslotFlags.LogDirtyPages);
        using var other = HostMemory.Allocate(2 * PageSize.Bytes);
        vm.Mmu.Fault(MmuTestVm.Gpa(1), MmuAccess.Read);           // spte = pfn1 (read-only: dirty logging)
        var oldTable = vm.Table;
        ulong pfn1 = oldTable.Read(1).Pfn;
        ulong pfn2 = ((ulong)other.Address >> PageSize.Shift) + 1;
        int fastCommits = 0;
        vm.Hooks.At = (p, g) =>
        {
            if (p != MmuHookPoint.FastPathBeforeCommit) return;
            if (fastCommits++ > 0) return;
            // CPU 1: the slot moves to other host memory and the page is faulted in again: spte = pfn2.
            vm.Mmu.SetMemslots(MemslotSet.Of([Memslot.For(0, MmuTestVm.Base, other, MemslotFlags.LogDirtyPages)]));
            Assert.Equal(pfn2, vm.Mmu.Fault(MmuTestVm.Gpa(1), MmuAccess.Read).Spte.Pfn);
        };
        var r = vm.Mmu.Fault(MmuTestVm.Gpa(1), MmuAccess.Write);
        Assert.NotEqual(pfn1, pfn2);
        Assert.True(oldTable.IsRetired);
        Assert.True(oldTable.Read(1).IsEmpty);                    // the in-flight cmpxchg did not land
        Assert.Equal(pfn2, r.Spte.Pfn);                           // the write was resolved on the new mapping
        Assert.Equal(pfn2, vm.Spte(1).Pfn);
        Assert.True(vm.Spte(1).IsWritable);
        Assert.Equal([1UL], vm.Mmu.GetDirtyLog(0).SetPages());    // dirty-logged for the right gfn and slot
    }

    [Fact]
    public void Aba_zap_and_reinstall_within_a_slot_can_only_bring_back_the_same_frame()
    {
        using var vm = MmuTestVm.Create(1, MemslotFlags.LogDirtyPages);
        vm.Mmu.Fault(MmuTestVm.Gpa(0), MmuAccess.Read);
        var before = vm.Spte(0);
        bool done = false;
        vm.Hooks.At = (p, g) =>
        {
            if (p != MmuHookPoint.FastPathBeforeCommit || done) return;
            done = true;
            vm.Mmu.Zap(new GfnRange(MmuTestVm.Gfn(0), 1));        // spte = 0
            vm.Mmu.Fault(MmuTestVm.Gpa(0), MmuAccess.Read);       // spte = the same frame again
        };
        var r = vm.Mmu.Fault(MmuTestVm.Gpa(0), MmuAccess.Write);
        // The cmpxchg may succeed (bit-identical SPTE), and that is correct: the frame is the slot's.
        Assert.Equal(FaultOutcome.FastFixed, r.Outcome);
        Assert.Equal(vm.Table.PfnOf(0), r.Spte.Pfn);
        Assert.Equal(before.Pfn, r.Spte.Pfn);
    }

    // locking.rst "flush tlbs due to spte updated": after the SPTE became read-only a vCPU may still hold
    // the writable translation; the harvest must not return (and the caller must not copy) until every
    // vCPU dropped it.
    [Fact]
    public void Stale_writable_tlb_entry_harvest_waits_until_the_vcpu_dropped_it()
    {
        using var vm = MmuTestVm.Create(1, MemslotFlags.LogDirtyPages);
        using var tlb = new SoftTlb(vm.Mmu, 0);
        using var flushRequested = new ManualResetEventSlim();
        using var staleWriteDone = new ManualResetEventSlim();
        using var inGuest = new ManualResetEventSlim();
        vm.Hooks.At = (p, _) => { if (p == MmuHookPoint.FlushRequested) flushRequested.Set(); };
        var vcpu = new Thread(() =>
        {
            tlb.EnterGuest();
            Assert.True(tlb.TryWrite(MmuTestVm.Gpa(0), 1UL, out _));
            inGuest.Set();
            Assert.True(flushRequested.Wait(Generous));
            // The SPTE is read-only now, but this vCPU has not acknowledged: its translation is still writable
            // and a write through it does not fault.
            long faults = tlb.Faults;
            Assert.False(vm.Spte(0).IsWritable);
            Assert.True(tlb.HasTranslation(MmuTestVm.Gfn(0), writable: true));
            Assert.True(tlb.TryWrite(MmuTestVm.Gpa(0), 2UL, out _));
            Assert.Equal(faults, tlb.Faults);
            staleWriteDone.Set();
            SpinWait.SpinUntil(() => tlb.IsKicked, Generous);
            tlb.ExitGuest();
        });
        vcpu.Start();
        Assert.True(inGuest.Wait(Generous));
        var harvest = Task.Run(() => vm.Mmu.GetDirtyLog(0));
        Assert.True(staleWriteDone.Wait(Generous));
        Assert.True(harvest.Wait(Generous));
        vcpu.Join();
        Assert.Equal([0UL], harvest.Result.SetPages());
        // The stale write happened before the harvest returned, so a copy made now has it.
        Assert.Equal(2UL, vm.Memory.Read<ulong>(0));
        tlb.EnterGuest();
        Assert.Empty(tlb.WritableTranslations());
        tlb.ExitGuest();
    }

    // The window between resetting the bitmap and re-protecting a page (KVM: xchg of the bitmap word, then
    // write-protecting the mask): a write there must show up in this harvest or the next, never in neither.
    [Theory]
    [InlineData("before the bitmap word is reset")]
    [InlineData("between the reset and the re-protect of the page")]
    [InlineData("after the page was re-protected")]
    public void Dirty_bit_set_between_harvest_and_reprotect_is_reported(string window)
    {
        var (point, hookPage) = window switch
        {
            "before the bitmap word is reset" => (MmuHookPoint.BitmapAccess, 0UL),
            "between the reset and the re-protect of the page" => (MmuHookPoint.SpteRead, 0UL),
            _ => (MmuHookPoint.SpteRead, 1UL),
        };
        using var vm = MmuTestVm.Create(2, MemslotFlags.LogDirtyPages);
        vm.Mmu.Fault(MmuTestVm.Gpa(0), MmuAccess.Read);
        vm.Mmu.Fault(MmuTestVm.Gpa(1), MmuAccess.Read);
        FaultResult cpu1 = default;
        Once(vm, point, MmuTestVm.Gfn(hookPage), () => cpu1 = vm.GuestWrite(0, 7));
        var first = vm.Mmu.GetDirtyLog(0);
        vm.Hooks.At = null;
        Assert.Equal(FaultOutcome.FastFixed, cpu1.Outcome);
        var second = vm.Mmu.GetDirtyLog(0);
        Assert.True(first.IsSet(0) ^ second.IsSet(0), $"page 0 reported in first: {first.IsSet(0)}, second: {second.IsSet(0)}");
        // If the first harvest did not report it, the page must still be writable-and-dirty then, i.e. the
        // write came after that harvest's re-protect of the page; otherwise it is read-only and clean now.
        Assert.False(vm.Spte(0).IsWritable);
    }
}
