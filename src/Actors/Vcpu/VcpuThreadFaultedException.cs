namespace Actorvisor.Actors.Vcpu;

/// <summary>
/// The vCPU thread died of an exception (from a device on the exit path or from the accelerator). The
/// VcpuActor rethrows it so that its parent's supervision fails the VM.
/// </summary>
public sealed class VcpuThreadFaultedException(int vcpuId, Exception inner)
    : Exception($"vCPU {vcpuId} thread faulted: {inner.GetType().Name}: {inner.Message}", inner)
{
    /// <summary>The vCPU whose thread faulted.</summary>
    public int VcpuId { get; } = vcpuId;
}
