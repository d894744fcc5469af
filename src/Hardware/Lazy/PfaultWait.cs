namespace Actorvisor.Hardware.Lazy;

/// <summary>
/// The s390 pfault race in one word: the three-valued <c>thread.pfault_wait</c> of arch/s390/mm/pfault.c
/// (1 waiting, 0 idle, -1 completed early) for one vCPU, plus the token of the fault it refers to.
/// "Page ready" may arrive before the vCPU side has recorded "not present": the early completion is
/// remembered (-1) so the later "not present" does not block; a completion for a fault that was cancelled,
/// or already completed, is ignored instead of being mistaken for the next fault's (pfault.c ignores
/// "a leftover of a PFAULT CANCEL operation").
/// Tokens identify a vCPU's faults and must increase (a vCPU has one fault of its own at a time).
/// Lock-free: every operation is one compare-and-swap on the word; the type decides, the caller blocks and wakes.
/// </summary>
public sealed class PfaultWait
{
    /// <summary>pfault_wait == 1: the vCPU waits for its page.</summary>
    public const int Waiting = 1;
    /// <summary>pfault_wait == 0: nothing outstanding on the vCPU side.</summary>
    public const int Idle = 0;
    /// <summary>pfault_wait == -1: the completion arrived before "not present".</summary>
    public const int CompletedEarly = -1;

    // token << 2 | (state + 1): one word, so a decision and its transition are a single CAS.
    private long _word = Encode(0, Idle);

    /// <summary>The current state: <see cref="Waiting"/>, <see cref="Idle"/> or <see cref="CompletedEarly"/>.</summary>
    public int State => StateOf(Volatile.Read(ref _word));

    /// <summary>The token of the fault the state refers to (0 before the first fault).</summary>
    public long Token => TokenOf(Volatile.Read(ref _word));

    /// <summary>
    /// The vCPU side: fault <paramref name="token"/> is not present. Returns <see cref="NotPresentOutcome.Block"/>
    /// (state 1: the caller now waits for the wake that <see cref="PageReady"/> or <see cref="Cancel"/> orders) or,
    /// if its completion already arrived, <see cref="NotPresentOutcome.AlreadyCompleted"/> (state back to 0, no wait).
    /// </summary>
    /// <exception cref="InvalidOperationException">the vCPU already waits on a fault.</exception>
    /// <exception cref="ArgumentOutOfRangeException">the token is not positive or not newer than the faults seen.</exception>
    public NotPresentOutcome NotPresent(long token)
    {
        CheckToken(token);
        long word = Volatile.Read(ref _word);
        while (true)
        {
            long t = TokenOf(word);
            int s = StateOf(word);
            if (s == Waiting)
                throw new InvalidOperationException($"fault {token}: the vCPU already waits on fault {t}; a vCPU has one fault at a time");
            NotPresentOutcome outcome;
            long next;
            if (s == CompletedEarly && t == token)
            {
                // pfault.c: "Completion interrupt was faster than the initial interrupt. Set pfault_wait back to zero and exit."
                outcome = NotPresentOutcome.AlreadyCompleted;
                next = Encode(token, Idle);
            }
            else
            {
                if (token <= t)
                    throw new ArgumentOutOfRangeException(nameof(token), $"fault {token} is not newer than fault {t}, already seen; tokens must increase");
                outcome = NotPresentOutcome.Block;
                next = Encode(token, Waiting);
            }
            long seen = Interlocked.CompareExchange(ref _word, next, word);
            if (seen == word) return outcome;
            word = seen;
        }
    }

    /// <summary>
    /// The completion side: fault <paramref name="token"/>'s page is ready. Returns
    /// <see cref="PageReadyOutcome.WokeWaiter"/> if the vCPU waits on it (the caller wakes it),
    /// <see cref="PageReadyOutcome.CompletedEarly"/> if the vCPU has not recorded it yet (remembered as -1), or
    /// <see cref="PageReadyOutcome.Ignored"/> for a leftover of a cancelled or already completed fault.
    /// </summary>
    /// <exception cref="InvalidOperationException">the vCPU waits on an older fault than this completion's.</exception>
    public PageReadyOutcome PageReady(long token)
    {
        CheckToken(token);
        long word = Volatile.Read(ref _word);
        while (true)
        {
            long t = TokenOf(word);
            int s = StateOf(word);
            PageReadyOutcome outcome;
            long next;
            if (s == Waiting && t == token)
            {
                outcome = PageReadyOutcome.WokeWaiter;
                next = Encode(token, Idle);
            }
            else if (token > t)
            {
                if (s == Waiting)
                    throw new InvalidOperationException($"completion of fault {token} arrived while the vCPU waits on older fault {t}: tokens out of order");
                outcome = PageReadyOutcome.CompletedEarly;
                next = Encode(token, CompletedEarly);
            }
            else
            {
                return PageReadyOutcome.Ignored; // token <= t and not its waiter: cancelled, duplicate or superseded
            }
            long seen = Interlocked.CompareExchange(ref _word, next, word);
            if (seen == word) return outcome;
            word = seen;
        }
    }

    /// <summary>
    /// Cancels fault <paramref name="token"/> (vCPU reset, destroy, or a fault given up): its completion, if it
    /// still comes, is then ignored. Returns <see cref="CancelOutcome.ReleaseWaiter"/> if the vCPU waits on it
    /// (the caller wakes it), <see cref="CancelOutcome.DiscardedEarlyCompletion"/> if its completion had
    /// arrived early, <see cref="CancelOutcome.Cancelled"/> if it is still to come, or
    /// <see cref="CancelOutcome.NothingToCancel"/> if the fault already completed or a newer one superseded it.
    /// </summary>
    /// <exception cref="InvalidOperationException">the vCPU waits on an older fault than the one cancelled.</exception>
    public CancelOutcome Cancel(long token)
    {
        CheckToken(token);
        long word = Volatile.Read(ref _word);
        while (true)
        {
            long t = TokenOf(word);
            int s = StateOf(word);
            CancelOutcome outcome;
            if (token < t || (token == t && s == Idle)) return CancelOutcome.NothingToCancel;
            if (token == t)
                outcome = s == Waiting ? CancelOutcome.ReleaseWaiter : CancelOutcome.DiscardedEarlyCompletion;
            else if (s == Waiting)
                throw new InvalidOperationException($"cancel of fault {token} while the vCPU waits on older fault {t}: tokens out of order");
            else
                outcome = CancelOutcome.Cancelled; // newer than anything seen: its completion is still to come
            long seen = Interlocked.CompareExchange(ref _word, Encode(token, Idle), word);
            if (seen == word) return outcome;
            word = seen;
        }
    }

    /// <inheritdoc />
    public override string ToString()
    {
        long w = Volatile.Read(ref _word);
        return $"pfault_wait {StateOf(w)} (fault {TokenOf(w)})";
    }

    private static long Encode(long token, int state) => token << 2 | (long)(state + 1);
    private static long TokenOf(long word) => word >>> 2;
    private static int StateOf(long word) => (int)(word & 3) - 1;

    private static void CheckToken(long token)
    {
        if (token <= 0 || token > long.MaxValue >> 2)
            throw new ArgumentOutOfRangeException(nameof(token), $"fault token {token} must be between 1 and 2^61-1");
    }
}
