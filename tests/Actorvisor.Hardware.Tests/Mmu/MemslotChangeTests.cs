using Actorvisor.Hardware.Memory;
using Actorvisor.Hardware.Mmu;
using Actorvisor.Hardware.Native;

namespace Actorvisor.Hardware.Tests.Mmu;

public class MemslotChangeTests
{
    [Fact]
    public void Deleting_a_slot_zaps_and_retires_its_table_and_faults_become_mmio()
    {
        using var vm = MmuTestVm.Create(2);
        vm.GuestWrite(0, 1);
        var table = vm.Table;
        vm.Mmu.SetMemslots(MemslotSet.Empty);
        Assert.True(table.IsRetired);
        Assert.True(table.Read(0).IsEmpty);
        Assert.Null(vm.Mmu.TableOf(0));
        Assert.Equal(FaultOutcome.Mmio, vm.Mmu.Fault(MmuTestVm.Gpa(0), MmuAccess.Read).Outcome);
    }

    [Fact]
    public void After_a_slot_is_removed_no_vcpu_translation_reaches_its_memory()
    {
        using var vm = MmuTestVm.Create(1);
        using var tlb = new SoftTlb(vm.Mmu, 0);
        tlb.EnterGuest();
        Assert.True(tlb.TryWrite(MmuTestVm.Gpa(0), 1UL, out _));
        tlb.ExitGuest();
        vm.Mmu.SetMemslots(MemslotSet.Empty);
        tlb.EnterGuest();
        Assert.False(tlb.HasTranslation(MmuTestVm.Gfn(0)));
        Assert.False(tlb.TryWrite(MmuTestVm.Gpa(0), 2UL, out var failure));
        tlb.ExitGuest();
        Assert.Equal(FaultOutcome.Mmio, failure.Outcome);
        Assert.Equal(1UL, vm.Memory.Read<ulong>(0));
    }

    [Fact]
    public void Moving_a_slot_to_other_host_memory_maps_the_new_frames()
    {
        using var vm = MmuTestVm.Create(2);
        using var other = HostMemory.Allocate(2 * PageSize.Bytes);
        vm.GuestWrite(1, 1);
        vm.Mmu.SetMemslots(MemslotSet.Of([Memslot.For(0, MmuTestVm.Base, other)]));
        var r = vm.Mmu.Fault(MmuTestVm.Gpa(1), MmuAccess.Write);
        Assert.Equal(FaultOutcome.SlowInstalled, r.Outcome);
        Assert.Equal(other.Address + (nint)PageSize.Bytes, r.Spte.HostAddress);
    }

    [Fact]
    public void A_flags_only_change_keeps_the_table()
    {
        using var vm = MmuTestVm.Create(1);
        var table = vm.Table;
        vm.EnableDirtyLog();
        Assert.Same(table, vm.Table);
        Assert.False(table.IsRetired);
        Assert.True(table.Slot.LogsDirtyPages);
        Assert.NotNull(table.DirtyLog);
    }

    [Fact]
    public void Adding_a_slot_keeps_the_other_tables_and_their_sptes()
    {
        using var vm = MmuTestVm.Create(1);
        using var more = HostMemory.Allocate(PageSize.Bytes);
        vm.GuestWrite(0, 1);
        var spte = vm.Spte(0);
        vm.Mmu.SetMemslots(vm.Mmu.Memslots.With(Memslot.For(1, 0x1000_0000, more)));
        Assert.Equal(spte, vm.Spte(0));
        Assert.Equal(0, vm.Mmu.Counters.ZappedSptes);
        Assert.Equal(2, vm.Mmu.Tables.Count);
    }
}
