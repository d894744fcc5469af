using Actorvisor.Hardware.Kvm;

namespace Actorvisor.Kvm.Tests;

/// <summary>Describes the exit a <see cref="VcpuFd"/> reported, for assertion messages.</summary>
internal static class ExitDescription
{
    public static unsafe string Of(VcpuFd vcpu, KvmExitReason reason)
    {
        ref var run = ref vcpu.RunState;
        return reason switch
        {
            KvmExitReason.Io => $"IO port 0x{run.Io.Port:x} size {run.Io.Size} count {run.Io.Count} dir {run.Io.Direction}",
            KvmExitReason.Mmio => $"MMIO gpa 0x{run.Mmio.PhysAddr:x} len {run.Mmio.Len} write {run.Mmio.IsWrite}",
            KvmExitReason.InternalError => $"INTERNAL_ERROR suberror {run.Internal.Suberror} ndata {run.Internal.Ndata} data0 0x{run.Internal.Data[0]:x}",
            KvmExitReason.FailEntry => $"FAIL_ENTRY 0x{run.FailEntry.HardwareEntryFailureReason:x}",
            _ => reason.ToString(),
        } + $" at rip 0x{vcpu.GetRegs().Rip:x}";
    }
}
