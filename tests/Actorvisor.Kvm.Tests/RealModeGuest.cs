using Actorvisor.Hardware.Kvm;
using Actorvisor.Hardware.Memory;
using Iced.Intel;

namespace Actorvisor.Kvm.Tests;

/// <summary>
/// A VM with one vCPU in real mode and 64 KiB of RAM at guest-physical 0, running code placed at
/// <see cref="CodeAddress"/>: the smallest setup for exercising the raw ioctl wrappers.
/// </summary>
internal sealed class RealModeGuest : IDisposable
{
    /// <summary>Where the code goes (CS = 0, IP = this).</summary>
    public const ulong CodeAddress = 0x1000;

    /// <summary>Size of the RAM slot (slot 0 at gpa 0).</summary>
    public const ulong RamSize = 0x10000;

    public RealModeGuest(Action<Assembler> code, KvmFd? kvm = null)
    {
        Kvm = kvm ?? KvmFd.Open();
        OwnsKvm = kvm is null;
        Vm = Kvm.CreateVm();
        Ram = HostMemory.Allocate(RamSize);
        Vm.SetUserMemoryRegion(0, 0, RamSize, Ram.Address);
        Ram.Write(CodeAddress, GuestCode.Assemble(16, CodeAddress, code));
        Vcpu = Vm.CreateVcpu(0);
        var sregs = Vcpu.GetSregs();
        sregs.Cs.Base = 0;
        sregs.Cs.Selector = 0;
        Vcpu.SetSregs(sregs);
        var regs = Vcpu.GetRegs();
        regs.Rip = CodeAddress;
        regs.Rflags = 2;
        Vcpu.SetRegs(regs);
    }

    public KvmFd Kvm { get; }
    private bool OwnsKvm { get; }
    public VmFd Vm { get; }
    public HostMemory Ram { get; }
    public VcpuFd Vcpu { get; }

    public void Dispose()
    {
        Vcpu.Dispose();
        Vm.Dispose();
        Ram.Dispose();
        if (OwnsKvm) Kvm.Dispose();
    }
}
