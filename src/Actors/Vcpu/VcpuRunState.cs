namespace Actorvisor.Actors.Vcpu;

/// <summary>The state of a vCPU thread (Firecracker's vCPU state machine: paused, running, exited).</summary>
public enum VcpuRunState
{
    /// <summary>Parked outside the guest until resumed.</summary>
    Paused,
    /// <summary>Running guest code (or handling an exit inline).</summary>
    Running,
    /// <summary>The guest executed HLT; parked until resumed (KVM_EXIT_HLT without an in-kernel irqchip).</summary>
    Halted,
    /// <summary>The guest cannot continue (fatal exit, or an exit the device bus stopped on); registers stay readable.</summary>
    GuestEnded,
    /// <summary>The thread has left its run loop for good.</summary>
    Stopped,
}
