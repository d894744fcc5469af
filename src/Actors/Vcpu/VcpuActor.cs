using Akka.Actor;

namespace Actorvisor.Actors.Vcpu;

/// <summary>
/// One vCPU (vcpu->mutex, locking.rst section 1: taken inside kvm->lock, so the VmActor is its parent).
/// Serialises the coarse requests (pause, resume, registers, TLB flush, stop) and hands each to the vCPU's
/// dedicated run thread, which applies it outside the guest and answers the sender itself. The behaviours
/// mirror the state the thread will be in once it has applied everything posted so far. Guest exits the
/// VM must decide on (HLT, shutdown, internal error, debug exit) go to the parent; a thread that dies of
/// an exception is rethrown here so that the parent's supervision fails the VM.
/// </summary>
internal sealed class VcpuActor : ReceiveActor
{
    private readonly VcpuRunLoop _loop;

    /// <summary>Props for the actor that drives <paramref name="loop"/> (whose thread its parent starts).</summary>
    internal static Props Props(VcpuRunLoop loop) => Akka.Actor.Props.Create(() => new VcpuActor(loop));

    public VcpuActor(VcpuRunLoop loop)
    {
        _loop = loop;
        Parked();
    }

    // Whatever way the actor stops (teardown, a crash), its thread leaves the guest and ends. The VmActor
    // joins it before it releases devices or memory.
    /// <inheritdoc />
    protected override void PostStop() => _loop.Post(StopVcpu.Instance, ActorRefs.Nobody);

    private void Parked()
    {
        Receive<PauseVcpu>(Post);
        Receive<ResumeVcpu>(m => { Post(m); Become(Running); });
        Common();
    }

    private void Running()
    {
        Receive<PauseVcpu>(m => { Post(m); Become(Parked); });
        Receive<ResumeVcpu>(Post);
        Receive<VcpuHalted>(m => { Context.Parent.Tell(m); Become(Parked); });
        Common();
    }

    private void GuestEnded()
    {
        Receive<PauseVcpu>(Post);
        Receive<ResumeVcpu>(Post); // the thread refuses it, naming the exit that ended the guest
        Common();
    }

    private void Stopped()
    {
        Receive<VcpuLoopFaulted>(m => throw new VcpuThreadFaultedException(_loop.Id, m.Exception));
        Receive<VcpuHalted>(_ => { });
        Receive<VcpuGuestEnded>(_ => { });
        ReceiveAny(m => _loop.Post(m, Sender));
    }

    private void Common()
    {
        Receive<GetVcpuRegisters>(Post);
        Receive<SetVcpuRegisters>(Post);
        Receive<FlushVcpuTlb>(Post);
        Receive<StopVcpu>(m => { Post(m); Become(Stopped); });
        // A halt can race with a pause: report it whatever the behaviour.
        Receive<VcpuHalted>(m => Context.Parent.Tell(m));
        Receive<VcpuGuestEnded>(m => { Context.Parent.Tell(m); Become(GuestEnded); });
        Receive<VcpuLoopFaulted>(m => throw new VcpuThreadFaultedException(_loop.Id, m.Exception));
    }

    private void Post(object request) => _loop.Post(request, Sender);
}
