namespace Actorvisor.Actors.Vm;

/// <summary>
/// The steps of destroying a VM, in order (kvm_destroy_vm; docs/architecture.md "VM lifecycle and teardown"): each one completes
/// before the next starts, and each is published as a <see cref="VmTeardownStepped"/> event.
/// </summary>
public enum TeardownStep
{
    /// <summary>The VM refuses new requests (state Stopping).</summary>
    StopAcceptingRequests,
    /// <summary>Every vCPU thread is out of the guest and has ended.</summary>
    StopVcpus,
    /// <summary>Work queued before the teardown is done: memslot changes answered, device output and console drained (async-PF work flushed).</summary>
    FlushOutstandingWork,
    /// <summary>Devices are released (disposed) and their actors stopped.</summary>
    ReleaseDevices,
    /// <summary>Every memslot is deleted and retired after a grace period.</summary>
    RetireMemslots,
    /// <summary>Guest RAM is unmapped.</summary>
    UnmapGuestMemory,
    /// <summary>vCPU and VM handles (file descriptors) are closed.</summary>
    CloseFds,
}
