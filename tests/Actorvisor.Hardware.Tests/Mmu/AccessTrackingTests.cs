using Actorvisor.Hardware.Memory;
using Actorvisor.Hardware.Mmu;

namespace Actorvisor.Hardware.Tests.Mmu;

public class AccessTrackingTests
{
    [Fact]
    public void AgePages_reports_young_pages_and_makes_them_access_tracked()
    {
        using var vm = MmuTestVm.Create(4);
        vm.Mmu.Fault(MmuTestVm.Gpa(0), MmuAccess.Read);
        vm.Mmu.Fault(MmuTestVm.Gpa(2), MmuAccess.Write);
        var young = vm.Mmu.AgePages(new GfnRange(MmuTestVm.Gfn(0), 4));
        Assert.Equal([MmuTestVm.Gfn(0), MmuTestVm.Gfn(2)], young);
        Assert.True(vm.Spte(2).IsAccessTracked);
        Assert.True(vm.Spte(2).IsDirty);            // the dirty state survives aging
        Assert.True(vm.Spte(1).IsEmpty);
        Assert.Empty(vm.Mmu.AgePages(new GfnRange(MmuTestVm.Gfn(0), 4)));   // nothing touched since
        Assert.Equal(2, vm.Mmu.Counters.AgedPages);
    }

    [Fact]
    public void AgePages_does_not_take_mmu_lock()
    {
        using var vm = MmuTestVm.Create(1);
        vm.Mmu.Fault(MmuTestVm.Gpa(0), MmuAccess.Read);
        using var held = new ManualResetEventSlim();
        using var release = new ManualResetEventSlim();
        var holder = new Thread(() => { using (vm.Mmu.Lock.EnterWrite()) { held.Set(); release.Wait(TimeSpan.FromSeconds(10)); } });
        holder.Start();
        Assert.True(held.Wait(TimeSpan.FromSeconds(10)));
        Assert.Single(vm.Mmu.AgePages(new GfnRange(MmuTestVm.Gfn(0), 1)));
        release.Set();
        holder.Join();
    }

    [Fact]
    public void The_next_guest_access_restores_the_page_on_the_fast_path()
    {
        using var vm = MmuTestVm.Create(2, MemslotFlags.LogDirtyPages);
        using var tlb = new SoftTlb(vm.Mmu, 0);
        tlb.EnterGuest();
        Assert.True(tlb.TryWrite(MmuTestVm.Gpa(0), 1UL, out _));
        Assert.True(tlb.TryRead<ulong>(MmuTestVm.Gpa(1), out _, out _));
        tlb.ExitGuest();
        vm.Mmu.GetDirtyLog(0);

        Assert.Equal(2, vm.Mmu.AgePages(new GfnRange(MmuTestVm.Gfn(0), 2)).Count);
        long fast = vm.Mmu.Counters.FastPathFixes;
        tlb.EnterGuest();                            // the aging flush dropped the translations
        Assert.False(tlb.HasTranslation(MmuTestVm.Gfn(0)));
        Assert.True(tlb.TryRead<ulong>(MmuTestVm.Gpa(0), out var v, out _));
        Assert.True(tlb.TryWrite(MmuTestVm.Gpa(1), 2UL, out _));
        tlb.ExitGuest();
        Assert.Equal(1UL, v);
        Assert.Equal(fast + 2, vm.Mmu.Counters.FastPathFixes);
        Assert.True(vm.Spte(0).IsPresent && vm.Spte(0).IsAccessed && !vm.Spte(0).IsWritable);
        Assert.True(vm.Spte(1).IsPresent && vm.Spte(1).IsWritable && vm.Spte(1).IsDirty);
        Assert.Equal([1UL], vm.Mmu.GetDirtyLog(0).SetPages());
        Assert.Equal([MmuTestVm.Gfn(0), MmuTestVm.Gfn(1)], vm.Mmu.AgePages(new GfnRange(MmuTestVm.Gfn(0), 2)));
    }

    [Fact]
    public void A_page_written_before_aging_is_still_harvested_after_it()
    {
        using var vm = MmuTestVm.Create(1, MemslotFlags.LogDirtyPages);
        vm.GuestWrite(0, 1);
        vm.Mmu.AgePages(new GfnRange(MmuTestVm.Gfn(0), 1));
        Assert.Equal([0UL], vm.Mmu.GetDirtyLog(0).SetPages());
        Assert.True(vm.Spte(0).IsAccessTracked);
        Assert.False(vm.Spte(0).IsDirty);
    }
}
