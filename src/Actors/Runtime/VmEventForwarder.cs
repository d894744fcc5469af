using Actorvisor.Actors.Vm;
using Akka.Actor;

namespace Actorvisor.Actors.Runtime;

/// <summary>
/// Subscribes to one VM for a <see cref="VmSession"/>: hands every event to the session's callback (in
/// order, on this actor's thread) and completes the session's end when <see cref="VmEnded"/> arrives.
/// </summary>
internal sealed class VmEventForwarder : ReceiveActor
{
    public static Props Props(Action<VmEvent> onEvent, TaskCompletionSource<VmOutcome> ended) =>
        Akka.Actor.Props.Create(() => new VmEventForwarder(onEvent, ended));

    public VmEventForwarder(Action<VmEvent> onEvent, TaskCompletionSource<VmOutcome> ended)
    {
        Receive<VmEvent>(e =>
        {
            try
            {
                onEvent(e);
            }
            finally
            {
                if (e is VmEnded end)
                {
                    ended.TrySetResult(end.Outcome);
                    Context.Stop(Self);
                }
            }
        });
        Receive<Terminated>(_ =>
        {
            ended.TrySetException(new InvalidOperationException("the VM actor stopped before reporting its end"));
            Context.Stop(Self);
        });
    }
}
