using Actorvisor.Hardware.Kvm;
using Actorvisor.Hardware.Memory;
using Actorvisor.Hardware.Native;
using static Iced.Intel.AssemblerRegisters;

namespace Actorvisor.Kvm.Tests;

/// <summary>VM ioctls on the real /dev/kvm: memslots, dirty logging, and the kernel's refusals.</summary>
public sealed class VmFdTests
{
    [Fact]
    public void Overlapping_memslot_is_refused_by_the_kernel_with_EEXIST()
    {
        using var kvm = KvmFd.Open();
        using var vm = kvm.CreateVm();
        using var ram = HostMemory.Allocate(0x4000);
        vm.SetUserMemoryRegion(0, 0x10000, 0x2000, ram.Address);
        // Bypasses MemslotSet's own check on purpose: this is the kernel's answer (kvm_main.c: an overlapping slot gives -EEXIST).
        var e = Assert.Throws<SyscallException>(() => vm.SetUserMemoryRegion(1, 0x11000, 0x2000, ram.Address + 0x2000));
        Assert.Equal(Errnos.EEXIST, e.Errno);
        Assert.Contains("KVM_SET_USER_MEMORY_REGION", e.Message);
        Assert.Contains("EEXIST", e.Message);
    }

    [Fact]
    public void Misaligned_memslot_is_refused_by_the_kernel_with_EINVAL()
    {
        using var kvm = KvmFd.Open();
        using var vm = kvm.CreateVm();
        using var ram = HostMemory.Allocate(0x4000);
        var e = Assert.Throws<SyscallException>(() => vm.SetUserMemoryRegion(0, 0x10800, 0x1000, ram.Address));
        Assert.Equal(Errnos.EINVAL, e.Errno);
        Assert.Contains("KVM_SET_USER_MEMORY_REGION", e.Message);
    }

    [Fact]
    public void Deleted_memslot_frees_its_range_for_another_slot()
    {
        using var kvm = KvmFd.Open();
        using var vm = kvm.CreateVm();
        using var ram = HostMemory.Allocate(0x2000);
        vm.SetUserMemoryRegion(0, 0x10000, 0x2000, ram.Address);
        vm.DeleteUserMemoryRegion(0);
        vm.SetUserMemoryRegion(1, 0x10000, 0x2000, ram.Address); // would be EEXIST if slot 0 were still there
    }

    [Fact]
    public void Dirty_log_returns_the_written_pages_then_none()
    {
        const ulong dataBase = 0x20000;
        using var guest = new RealModeGuest(a =>
        {
            // DS = 0x2000 -> linear 0x20000: write pages 1 and 3 of the data slot.
            a.mov(ax, 0x2000);
            a.mov(ds, ax);
            a.mov(__byte_ptr[0x1010], 0x11);
            a.mov(__byte_ptr[0x3ff0], 0x33);
            a.hlt();
        });
        using var data = HostMemory.Allocate(0x8000);
        guest.Vm.SetUserMemoryRegion(1, dataBase, data.Size, data.Address, VmFd.MemLogDirtyPages);

        Assert.Equal(KvmExitReason.Hlt, guest.Vcpu.Run());

        var first = guest.Vm.GetDirtyLog(1, data.Size);
        Assert.Equal(new ulong[] { 0b1010 }, first);
        Assert.Equal(0x11, data.Read<byte>(0x1010));
        Assert.Equal(0x33, data.Read<byte>(0x3ff0));
        var second = guest.Vm.GetDirtyLog(1, data.Size);
        Assert.Equal(new ulong[] { 0 }, second);
    }

    [Fact]
    public void Dirty_log_of_a_slot_without_logging_is_refused_with_ENOENT()
    {
        using var kvm = KvmFd.Open();
        using var vm = kvm.CreateVm();
        using var ram = HostMemory.Allocate(0x2000);
        vm.SetUserMemoryRegion(0, 0, ram.Size, ram.Address);
        var e = Assert.Throws<SyscallException>(() => vm.GetDirtyLog(0, ram.Size));
        Assert.Equal(Errnos.ENOENT, e.Errno);
        Assert.Contains("KVM_GET_DIRTY_LOG", e.Message);
    }
}
