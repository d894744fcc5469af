using Actorvisor.Hardware.Memory;
using Actorvisor.Hardware.Mmu;

namespace Actorvisor.Hardware.Tests.Mmu;

public class DirtyLogTests
{
    [Fact]
    public void Enabling_logging_write_protects_the_slot_and_starts_with_an_empty_log()
    {
        using var vm = MmuTestVm.Create(3);
        for (ulong p = 0; p < 3; p++) vm.GuestWrite(p, p);
        Assert.True(vm.Spte(1).IsWritable);
        long flushes = vm.Mmu.Counters.TlbFlushes;

        vm.EnableDirtyLog();
        for (ulong p = 0; p < 3; p++) Assert.False(vm.Spte(p).IsWritable || vm.Spte(p).IsDirty);
        Assert.Equal(flushes + 1, vm.Mmu.Counters.TlbFlushes);
        Assert.Equal(0UL, vm.Mmu.GetDirtyLog(0).Count());
    }

    [Fact]
    public void GetDirtyLog_returns_written_pages_and_protects_them_again()
    {
        using var vm = MmuTestVm.Create(130, MemslotFlags.LogDirtyPages);
        vm.GuestWrite(1, 1);
        vm.GuestWrite(64, 2);
        vm.GuestWrite(129, 3);
        vm.Mmu.Fault(MmuTestVm.Gpa(5), MmuAccess.Read);    // read only: not dirty

        var log = vm.Mmu.GetDirtyLog(0);
        Assert.Equal([1UL, 64UL, 129UL], log.SetPages());
        Assert.Equal(130UL, log.Pages);
        foreach (var p in new ulong[] { 1, 64, 129 })
        {
            Assert.False(vm.Spte(p).IsWritable);
            Assert.False(vm.Spte(p).IsDirty);
            Assert.True(vm.Spte(p).CanFastWrite);      // the next write is a fast-path fix
        }
        Assert.Equal(0UL, vm.Mmu.GetDirtyLog(0).Count());

        Assert.Equal(FaultOutcome.FastFixed, vm.GuestWrite(64, 4).Outcome);
        Assert.Equal([64UL], vm.Mmu.GetDirtyLog(0).SetPages());
        Assert.Equal(3, vm.Mmu.Counters.DirtyLogHarvests);
    }

    [Fact]
    public void A_slot_that_does_not_log_is_refused_naming_the_slot()
    {
        using var vm = MmuTestVm.Create(1);
        var e = Assert.Throws<ArgumentException>(() => vm.Mmu.GetDirtyLog(0));
        Assert.Equal("slotId", e.ParamName);
        Assert.Contains("does not log", e.Message);
        Assert.Equal("slotId", Assert.Throws<ArgumentException>(() => vm.Mmu.GetDirtyLog(9)).ParamName);
    }

    [Fact]
    public void Manual_protect_get_does_not_reset_and_clear_resets_and_protects_only_the_mask()
    {
        using var vm = MmuTestVm.Create(4, MemslotFlags.LogDirtyPages, manualProtect: true);
        vm.GuestWrite(0, 1);
        vm.GuestWrite(2, 2);
        Assert.Equal([0UL, 2UL], vm.Mmu.GetDirtyLog(0).SetPages());
        Assert.Equal([0UL, 2UL], vm.Mmu.GetDirtyLog(0).SetPages());   // still there
        Assert.True(vm.Spte(0).IsWritable);                              // and not protected

        var mask = new DirtyBitmap(4);
        mask.Set(0);
        vm.Mmu.ClearDirtyLog(0, 0, mask);
        Assert.False(vm.Spte(0).IsWritable);
        Assert.True(vm.Spte(2).IsWritable);
        Assert.Equal([2UL], vm.Mmu.GetDirtyLog(0).SetPages());

        vm.GuestWrite(0, 3);                                             // written after the clear: reported again
        Assert.Equal([0UL, 2UL], vm.Mmu.GetDirtyLog(0).SetPages());
    }

    [Fact]
    public void ClearDirtyLog_validates_its_arguments()
    {
        using var vm = MmuTestVm.Create(4, MemslotFlags.LogDirtyPages, manualProtect: true);
        Assert.Equal("firstPage", Assert.Throws<ArgumentException>(() => vm.Mmu.ClearDirtyLog(0, 3, new DirtyBitmap(1))).ParamName);
        Assert.Equal("mask", Assert.Throws<ArgumentException>(() => vm.Mmu.ClearDirtyLog(0, 0, new DirtyBitmap(5))).ParamName);
        using var auto = MmuTestVm.Create(4, MemslotFlags.LogDirtyPages);
        Assert.Throws<InvalidOperationException>(() => auto.Mmu.ClearDirtyLog(0, 0, new DirtyBitmap(4)));
    }

    [Fact]
    public void Zap_and_write_protect_move_the_dirty_bit_into_the_log()
    {
        using var vm = MmuTestVm.Create(2, MemslotFlags.LogDirtyPages);
        vm.GuestWrite(0, 1);
        vm.GuestWrite(1, 2);
        vm.Mmu.Zap(new GfnRange(MmuTestVm.Gfn(0), 1));
        vm.Mmu.WriteProtect(new GfnRange(MmuTestVm.Gfn(1), 1), WriteProtectReason.DirtyLog);
        Assert.True(vm.Spte(0).IsEmpty);
        Assert.False(vm.Spte(1).IsDirty);
        Assert.Equal([0UL, 1UL], vm.Mmu.GetDirtyLog(0).SetPages());
        Assert.Equal(1, vm.Mmu.Counters.ZappedSptes);
    }

    [Fact]
    public void Host_writes_are_marked_with_MarkPageDirty()
    {
        using var vm = MmuTestVm.Create(2, MemslotFlags.LogDirtyPages);
        vm.Mmu.MarkPageDirty(MmuTestVm.Gpa(1, 100));
        vm.Mmu.MarkPageDirty(0xfee0_0000);   // no RAM: ignored
        Assert.Equal([1UL], vm.Mmu.GetDirtyLog(0).SetPages());
    }

    [Fact]
    public void Disabling_logging_drops_the_log_and_writes_are_fixed_without_it()
    {
        using var vm = MmuTestVm.Create(1, MemslotFlags.LogDirtyPages);
        vm.GuestWrite(0, 1);
        vm.SetFlags(MemslotFlags.None);
        Assert.Null(vm.Table.DirtyLog);
        Assert.Throws<ArgumentException>(() => vm.Mmu.GetDirtyLog(0));
        Assert.True(vm.Spte(0).IsWritable);   // the table (and its mapping) survived the flags change
    }

    [Fact]
    public void After_GetDirtyLog_no_vcpu_holds_a_writable_translation_of_a_returned_page()
    {
        using var vm = MmuTestVm.Create(4, MemslotFlags.LogDirtyPages);
        using var tlb = new SoftTlb(vm.Mmu, 0);
        tlb.EnterGuest();
        for (ulong p = 0; p < 4; p++) Assert.True(tlb.TryWrite(MmuTestVm.Gpa(p), p, out _));
        tlb.ExitGuest();
        Assert.Equal(4, tlb.WritableTranslations().Count);

        var log = vm.Mmu.GetDirtyLog(0);
        Assert.Equal(4UL, log.Count());
        tlb.EnterGuest();                        // the vCPU was outside: it flushes on entry
        Assert.Empty(tlb.WritableTranslations());
        long faults = tlb.Faults;
        Assert.True(tlb.TryWrite(MmuTestVm.Gpa(3), 9UL, out _));
        tlb.ExitGuest();
        Assert.Equal(faults + 1, tlb.Faults);     // the write faulted again...
        Assert.Equal([3UL], vm.Mmu.GetDirtyLog(0).SetPages());   // ...and is logged
    }
}
