using Actorvisor.Hardware.Lazy;
using Akka.Actor;

namespace Actorvisor.Actors.AsyncPf;

/// <summary>
/// The part of one vCPU's async-PF state (struct kvm_vcpu's async_pf) that more than one thread touches: the
/// vCPU thread's kernel id (faults are attributed by it), the fault it is on, its three-valued
/// <see cref="PfaultWait"/>, its counters and its queue actor. The fault reader thread records faults, any worker
/// thread may complete them, the queue actor owns everything else (the works and the done list).
/// </summary>
internal sealed class AsyncPfVcpu(int id)
{
    private FaultSlot? _slot;
    private IActorRef? _queue;
    private Action<uint>? _guestPageReady;
    private int _threadId;
    private long _lastToken;

    /// <summary>The vCPU index.</summary>
    public int Id { get; } = id;

    /// <summary>pfault_wait of the vCPU's thread.</summary>
    public PfaultWait Wait { get; } = new();

    /// <summary>The vCPU's counters.</summary>
    public AsyncPfCounters Counters { get; } = new();

    /// <summary>
    /// Serialises the reader's recording of a fault (publish, early check, "not present") with a flush's
    /// cancel of the vCPU's wait, so a cancel never falls between a fault's publication and its "not present".
    /// Completions (<see cref="PageReady"/>) never take it: they are the lock-free side of the race.
    /// </summary>
    public object Gate { get; } = new();

    /// <summary>The kernel thread id (gettid) of the vCPU's run-loop thread; 0 until it started.</summary>
    public int ThreadId
    {
        get => Volatile.Read(ref _threadId);
        set => Volatile.Write(ref _threadId, value);
    }

    /// <summary>The vCPU's queue actor, or null when detached (before start, after a flush): then faults are resolved synchronously.</summary>
    public IActorRef? Queue => Volatile.Read(ref _queue);

    /// <summary>The fault the vCPU thread is on (or was last on).</summary>
    public FaultSlot? Slot => Volatile.Read(ref _slot);

    /// <summary>Routes the vCPU's faults to <paramref name="queue"/>.</summary>
    public void Attach(IActorRef queue) => Volatile.Write(ref _queue, queue);

    /// <summary>Stops routing faults to the queue (call under <see cref="Gate"/>).</summary>
    public void Detach() => Volatile.Write(ref _queue, null);

    /// <summary>The next fault token (fault reader thread only: tokens increase in fault order).</summary>
    public long NextToken() => ++_lastToken;

    /// <summary>Publishes the fault the thread is on now; a full fence, paired with the installer's one (see <see cref="AsyncPfRouter.OnPageInstalled"/>).</summary>
    public void Publish(FaultSlot slot) => Interlocked.Exchange(ref _slot, slot);

    /// <summary>"Page ready" for fault <paramref name="token"/>, counted as a wakeup if the vCPU side was waiting on it.</summary>
    public PageReadyOutcome PageReady(long token)
    {
        var outcome = Wait.PageReady(token);
        if (outcome == PageReadyOutcome.WokeWaiter) Counters.Wakeup();
        return outcome;
    }

    /// <summary>"Page ready" for the vCPU's current fault if it is on <paramref name="page"/>.</summary>
    public void PageReadyIfOn(ulong page)
    {
        if (Slot is { } slot && slot.Page == page) PageReady(slot.Token);
    }

    /// <summary>The guest-visible "page not present" tokens waiting for their pages.</summary>
    public GuestPageTokens GuestTokens { get; } = new();

    /// <summary>
    /// Reports a guest-visible token ready (the vCPU's <c>AsyncPfProtocol.PageReady</c>); set once by whoever wires the
    /// vCPU's "page not present" to this router (<see cref="GuestPageNotPresentFetcher"/>), called from any thread.
    /// </summary>
    public Action<uint>? GuestPageReady
    {
        get => Volatile.Read(ref _guestPageReady);
        set => Volatile.Write(ref _guestPageReady, value);
    }

    /// <summary>"Page ready" for every guest-visible token waiting on <paramref name="page"/> (it is present now, or its fetch failed).</summary>
    public void GuestPageDone(ulong page) => AnswerGuest(GuestTokens.Take(page));

    /// <summary>"Page ready" for every guest-visible token still waiting (a wakeup-all: the guest retries its accesses).</summary>
    public void AnswerEveryGuestToken() => AnswerGuest(GuestTokens.TakeAll());

    private void AnswerGuest(IReadOnlyList<GuestPageToken> tokens)
    {
        if (tokens.Count == 0 || GuestPageReady is not { } ready) return;
        foreach (var waiting in tokens)
        {
            Counters.GuestReady(System.Diagnostics.Stopwatch.GetElapsedTime(waiting.Since));
            ready(waiting.Token);
        }
    }

    /// <summary>Cancels the vCPU's current fault wait (a flush); takes <see cref="Gate"/>.</summary>
    public void CancelWait()
    {
        lock (Gate)
        {
            if (Slot is { } slot && Wait.Cancel(slot.Token) == CancelOutcome.ReleaseWaiter) Counters.CancelledWait();
        }
    }
}
