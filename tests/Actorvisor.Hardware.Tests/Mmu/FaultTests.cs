using Actorvisor.Hardware.Memory;
using Actorvisor.Hardware.Mmu;
using Actorvisor.Hardware.Native;

namespace Actorvisor.Hardware.Tests.Mmu;

public class FaultTests
{
    [Fact]
    public void Missing_spte_is_installed_on_the_slow_path_with_the_slot_frame()
    {
        using var vm = MmuTestVm.Create(4);
        var r = vm.Mmu.Fault(MmuTestVm.Gpa(2, 0x123), MmuAccess.Read);
        Assert.Equal(FaultOutcome.SlowInstalled, r.Outcome);
        Assert.Equal(MmuTestVm.Gfn(2), r.Gfn);
        Assert.Equal(vm.Memory.Address + 2 * (nint)PageSize.Bytes, r.Spte.HostAddress);
        Assert.Equal(r.Spte, vm.Spte(2));
        Assert.True(r.Spte.IsPresent && r.Spte.IsAccessed && r.Spte.IsHostWritable && r.Spte.IsMmuWritable);
        Assert.Equal(1, vm.Mmu.Counters.SlowPathFaults);
    }

    [Fact]
    public void Without_dirty_logging_a_read_fault_maps_writable_and_dirty_up_front()
    {
        using var vm = MmuTestVm.Create(1);
        var s = vm.Mmu.Fault(MmuTestVm.Gpa(0), MmuAccess.Read).Spte;
        Assert.True(s.IsWritable);
        Assert.True(s.IsDirty);   // Writable never comes without Dirty
    }

    [Fact]
    public void With_dirty_logging_a_read_fault_maps_read_only_and_the_write_is_fixed_on_the_fast_path()
    {
        using var vm = MmuTestVm.Create(1, MemslotFlags.LogDirtyPages);
        var read = vm.Mmu.Fault(MmuTestVm.Gpa(0), MmuAccess.Read);
        Assert.False(read.Spte.IsWritable);
        Assert.False(read.Spte.IsDirty);
        var write = vm.Mmu.Fault(MmuTestVm.Gpa(0), MmuAccess.Write);
        Assert.Equal(FaultOutcome.FastFixed, write.Outcome);
        Assert.True(write.Spte.IsWritable && write.Spte.IsDirty);
        Assert.Equal(read.Spte.Pfn, write.Spte.Pfn);
        Assert.Equal(1, vm.Mmu.Counters.FastPathFixes);
        Assert.Equal(1, vm.Mmu.Counters.SlowPathFaults);
    }

    [Fact]
    public void A_fault_the_spte_already_allows_is_spurious()
    {
        using var vm = MmuTestVm.Create(1);
        vm.Mmu.Fault(MmuTestVm.Gpa(0), MmuAccess.Write);
        Assert.Equal(FaultOutcome.Spurious, vm.Mmu.Fault(MmuTestVm.Gpa(0), MmuAccess.Write).Outcome);
        Assert.Equal(1, vm.Mmu.Counters.SpuriousFaults);
    }

    [Fact]
    public void No_ram_is_mmio_and_installs_nothing()
    {
        using var vm = MmuTestVm.Create(1);
        var r = vm.Mmu.Fault(0xfee0_0000, MmuAccess.Read);
        Assert.Equal(FaultOutcome.Mmio, r.Outcome);
        Assert.False(r.IsResolved);
        Assert.Equal(1, vm.Mmu.Counters.MmioFaults);
    }

    [Fact]
    public void Read_only_slot_reads_map_without_host_writable_and_writes_are_mmio()
    {
        using var vm = MmuTestVm.Create(1, MemslotFlags.ReadOnly);
        var read = vm.Mmu.Fault(MmuTestVm.Gpa(0), MmuAccess.Read);
        Assert.Equal(FaultOutcome.SlowInstalled, read.Outcome);
        Assert.False(read.Spte.IsHostWritable);
        Assert.False(read.Spte.IsWritable);
        Assert.Equal(FaultOutcome.Mmio, vm.Mmu.Fault(MmuTestVm.Gpa(0), MmuAccess.Write).Outcome);
    }

    [Theory]
    [InlineData(WriteProtectReason.Host)]
    [InlineData(WriteProtectReason.WriteTracking)]
    public void Host_or_mmu_write_protection_refuses_writes_until_lifted(WriteProtectReason reason)
    {
        using var vm = MmuTestVm.Create(2);
        vm.Mmu.Fault(MmuTestVm.Gpa(0), MmuAccess.Write);
        vm.Mmu.WriteProtect(new GfnRange(MmuTestVm.Gfn(0), 2), reason);
        var s = vm.Spte(0);
        Assert.False(s.IsWritable);
        Assert.False(s.CanFastWrite);

        // The fast path must not touch it (locking.rst: only if Host-writable and MMU-writable).
        Assert.Equal(FastPageFault.Result.FallBack, FastPageFault.TryFix(vm.Table, 0, MmuAccess.Write, out _));
        var denied = vm.Mmu.Fault(MmuTestVm.Gpa(0), MmuAccess.Write);
        Assert.Equal(FaultOutcome.NotPermitted, denied.Outcome);
        Assert.Equal(reason, denied.DeniedBy);
        // Page 1 was never mapped: the slow path refuses the write before installing anything.
        Assert.Equal(FaultOutcome.NotPermitted, vm.Mmu.Fault(MmuTestVm.Gpa(1), MmuAccess.Write).Outcome);
        Assert.Equal(FaultOutcome.SlowInstalled, vm.Mmu.Fault(MmuTestVm.Gpa(1), MmuAccess.Read).Outcome);
        Assert.False(vm.Spte(1).IsWritable);
        Assert.Equal(2, vm.Mmu.Counters.NotPermittedFaults);

        vm.Mmu.WriteUnprotect(new GfnRange(MmuTestVm.Gfn(0), 2), reason);
        Assert.True(vm.Spte(0).CanFastWrite);
        Assert.Equal(FaultOutcome.FastFixed, vm.Mmu.Fault(MmuTestVm.Gpa(0), MmuAccess.Write).Outcome);
        Assert.Equal(FaultOutcome.FastFixed, vm.Mmu.Fault(MmuTestVm.Gpa(1), MmuAccess.Write).Outcome);
    }

    [Fact]
    public void The_fast_path_does_not_take_mmu_lock()
    {
        using var vm = MmuTestVm.Create(2, MemslotFlags.LogDirtyPages);
        vm.Mmu.Fault(MmuTestVm.Gpa(0), MmuAccess.Read);
        using var holderReady = new ManualResetEventSlim();
        using var release = new ManualResetEventSlim();
        var holder = new Thread(() =>
        {
            using (vm.Mmu.Lock.EnterWrite()) { holderReady.Set(); release.Wait(TimeSpan.FromSeconds(10)); }
        });
        holder.Start();
        try
        {
            Assert.True(holderReady.Wait(TimeSpan.FromSeconds(10)));
            // With the write side held elsewhere, a write-protection fault still completes: no lock taken.
            var r = vm.Mmu.Fault(MmuTestVm.Gpa(0), MmuAccess.Write);
            Assert.Equal(FaultOutcome.FastFixed, r.Outcome);
            // A missing SPTE needs the slow path, which waits for the lock.
            var slow = Task.Run(() => vm.Mmu.Fault(MmuTestVm.Gpa(1), MmuAccess.Read));
            Assert.False(slow.Wait(50));
            release.Set();
            Assert.True(slow.Wait(TimeSpan.FromSeconds(10)));
            Assert.Equal(FaultOutcome.SlowInstalled, slow.Result.Outcome);
        }
        finally
        {
            release.Set();
            holder.Join();
        }
    }

    [Fact]
    public void Execute_fault_installs_an_executable_mapping()
    {
        using var vm = MmuTestVm.Create(1);
        var r = vm.Mmu.Fault(MmuTestVm.Gpa(0), MmuAccess.Execute);
        Assert.Equal(FaultOutcome.SlowInstalled, r.Outcome);
        Assert.True(r.Spte.IsExecutable);
    }

    [Fact]
    public void Memory_written_after_a_fault_is_the_slot_memory()
    {
        using var vm = MmuTestVm.Create(2);
        using var tlb = new SoftTlb(vm.Mmu, 0);
        tlb.EnterGuest();
        Assert.True(tlb.TryWrite(MmuTestVm.Gpa(1, 8), 0xdead_beefUL, out _));
        Assert.True(tlb.TryRead<ulong>(MmuTestVm.Gpa(1, 8), out var back, out _));
        Assert.False(tlb.TryWrite(0xfee0_0000UL, 1u, out var failure));
        tlb.ExitGuest();
        Assert.Equal(0xdead_beefUL, back);
        Assert.Equal(0xdead_beefUL, vm.Memory.Read<ulong>(PageSize.Bytes + 8));
        Assert.Equal(FaultOutcome.Mmio, failure.Outcome);
    }
}
