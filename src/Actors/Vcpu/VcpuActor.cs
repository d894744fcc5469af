using Akka.Actor;

namespace Actorvisor.Actors.Vcpu;

/// <summary>
/// One vCPU (vcpu->mutex, locking.rst section 1: taken inside kvm->lock, so the VmActor is its parent).
/// Serialises the requests (pause, resume, registers, TLB flush, stop) into its vCPU thread's queue; the
/// thread applies each outside the guest and answers the sender itself, so the run loop alone knows its
/// state. Guest exits the VM must decide on (HLT, shutdown, internal error, debug exit) go to the parent; a
/// thread that dies of an exception is rethrown here so that the parent's supervision fails the VM.
/// </summary>
internal sealed class VcpuActor : ReceiveActor
{
    private readonly VcpuRunLoop _loop;

    /// <summary>Props for the actor that drives <paramref name="loop"/> (whose thread its parent starts).</summary>
    internal static Props Props(VcpuRunLoop loop) => Akka.Actor.Props.Create(() => new VcpuActor(loop));

    public VcpuActor(VcpuRunLoop loop)
    {
        _loop = loop;
        Receive<IVcpuRequest>(m => _loop.Post(m, Sender));
        // A halt can race with a pause, an exit with a stop: report each; the VmActor decides in its state.
        Receive<VcpuHalted>(m => Context.Parent.Tell(m));
        Receive<VcpuGuestEnded>(m => Context.Parent.Tell(m));
        Receive<VcpuLoopFaulted>(m => throw new VcpuThreadFaultedException(_loop.Id, m.Exception));
    }

    // Whatever way the actor stops (teardown, a crash), its thread leaves the guest and ends. The VmActor
    // joins it before it releases devices or memory.
    /// <inheritdoc />
    protected override void PostStop() => _loop.Post(StopVcpu.Instance, ActorRefs.Nobody);
}
