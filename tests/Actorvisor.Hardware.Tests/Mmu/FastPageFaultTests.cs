using Actorvisor.Hardware.Memory;
using Actorvisor.Hardware.Mmu;

namespace Actorvisor.Hardware.Tests.Mmu;

public class FastPageFaultTests
{
    [Fact]
    public void Missing_spte_falls_back_to_the_slow_path()
    {
        using var vm = MmuTestVm.Create(1);
        Assert.Equal(FastPageFault.Result.FallBack, FastPageFault.TryFix(vm.Table, 0, MmuAccess.Read, out _));
        Assert.True(vm.Spte(0).IsEmpty);
    }

    [Fact]
    public void Write_protection_fault_sets_writable_and_dirty_in_one_update()
    {
        using var vm = MmuTestVm.Create(1, MemslotFlags.LogDirtyPages);
        vm.Mmu.Fault(MmuTestVm.Gpa(0), MmuAccess.Read);
        var before = vm.Spte(0);
        Assert.Equal(FastPageFault.Result.Fixed, FastPageFault.TryFix(vm.Table, 0, MmuAccess.Write, out var after));
        Assert.Equal(before.With(SpteFlags.Writable | SpteFlags.Dirty), after);
        Assert.Equal(after, vm.Spte(0));
    }

    [Fact]
    public void Access_tracked_spte_is_restored_without_w_on_a_read_and_with_w_and_d_on_a_write()
    {
        using var vm = MmuTestVm.Create(2, MemslotFlags.LogDirtyPages);
        vm.Mmu.Fault(MmuTestVm.Gpa(0), MmuAccess.Write);
        vm.Mmu.Fault(MmuTestVm.Gpa(1), MmuAccess.Write);
        var original = vm.Spte(0);
        vm.Mmu.AgePages(new GfnRange(MmuTestVm.Gfn(0), 2));
        Assert.True(vm.Spte(0).IsAccessTracked);

        Assert.Equal(FastPageFault.Result.Fixed, FastPageFault.TryFix(vm.Table, 0, MmuAccess.Read, out var read));
        Assert.Equal(original.Without(SpteFlags.Writable), read);
        Assert.Equal(FastPageFault.Result.Fixed, FastPageFault.TryFix(vm.Table, 1, MmuAccess.Write, out var write));
        Assert.True(write.IsPresent && write.IsWritable && write.IsDirty && write.IsAccessed && !write.IsAccessTracked);
    }

    [Fact]
    public void Persistent_contention_gives_up_after_max_attempts()
    {
        using var vm = MmuTestVm.Create(1, MemslotFlags.LogDirtyPages);
        vm.Mmu.Fault(MmuTestVm.Gpa(0), MmuAccess.Read);
        int attempts = 0;
        // Each time the fast path is about to commit, someone else changes the SPTE (toggles Accessed).
        vm.Hooks.At = (point, _) =>
        {
            if (point != MmuHookPoint.FastPathBeforeCommit) return;
            attempts++;
            var s = vm.Table.Read(0);
            Assert.True(vm.Table.TryReplace(0, s, new Spte(s.Raw ^ (ulong)SpteFlags.Accessed)));
        };
        Assert.Equal(FastPageFault.Result.FallBack, FastPageFault.TryFix(vm.Table, 0, MmuAccess.Write, out _));
        Assert.Equal(FastPageFault.MaxAttempts, attempts);
        vm.Hooks.At = null;
        Assert.False(vm.Spte(0).IsWritable);
    }
}
