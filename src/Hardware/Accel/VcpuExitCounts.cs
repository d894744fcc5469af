namespace Actorvisor.Hardware.Accel;

/// <summary>
/// The port I/O and MMIO accesses one vCPU handed to its exit handler, counted where they are dispatched (like
/// KVM's per-vCPU io_exits and mmio_exits stats). Only the vCPU's thread writes the fields (plain increments: the
/// cheapest count there is on the exit path); readers use Volatile.Read.
/// </summary>
public sealed class VcpuExitCounts
{
    /// <summary>Port I/O accesses dispatched (one per IN/OUT, one per element of a string I/O).</summary>
    public long PortIo;

    /// <summary>MMIO accesses dispatched.</summary>
    public long Mmio;
}
