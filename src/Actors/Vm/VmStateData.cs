using Akka.Actor;

namespace Actorvisor.Actors.Vm;

/// <summary>
/// The data of a VmActor's live states (Created, Running, Paused), captured by their behaviours and carried
/// from one to the next: the vCPUs that halted since the last resume and the TLB flushes in flight.
/// </summary>
internal sealed class LiveData
{
    /// <summary>vCPUs parked by HLT; all of them halted ends the VM.</summary>
    public HashSet<int> Halted { get; } = new();

    /// <summary>TLB flushes waiting for their vCPUs, with whom to answer (refused if the teardown begins first).</summary>
    public Dictionary<FanOut, IActorRef> Flushes { get; } = new();
}

/// <summary>
/// The data of a VmActor's transition (start, pause, resume) waiting for every vCPU's acknowledgement
/// (<paramref name="Acks"/>), from state <paramref name="From"/>, asked by <paramref name="Requester"/>.
/// </summary>
internal sealed record Transition(LiveData Live, VmState From, IActorRef Requester, FanOut Acks);
