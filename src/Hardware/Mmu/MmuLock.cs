namespace Actorvisor.Hardware.Mmu;

/// <summary>
/// kvm->mmu_lock as a real reader-writer lock (locking.rst section 3: "Protects: shadow page/shadow tlb
/// entry"). The read side is for faults that must install an SPTE; the write side for zap, write-protect,
/// dirty-log harvest and memslot delete/move. The fast page fault path never takes it.
/// <para>
/// It is a leaf: while a thread holds it, it takes no other MMU-level lock (not even this one again), sends
/// no actor message and takes no other lock. Entering checks what it can: a thread that already holds any
/// <see cref="MmuLock"/>, or whose vCPU is in guest mode, gets <see cref="MmuLockViolationException"/>.
/// Code elsewhere calls <see cref="AssertNotHeld"/> where it sends, blocks or waits, to enforce the rest: the
/// slow page fault before it faults a host page in, a lazy page's synchronous store read, lazy memory teardown,
/// the memslot grace-period wait on a vCPU, the TLB flush registry lock, the vCPU run loop's messages to its
/// actors and the async-PF router's message to a vCPU's queue.
/// The one wait allowed under the write side is the TLB flush acknowledgement, which vCPUs give without
/// taking this lock (see <see cref="TlbFlushCoordinator"/>).
/// </para>
/// </summary>
public sealed class MmuLock : IDisposable
{
    private readonly ReaderWriterLockSlim _rw = new(LockRecursionPolicy.NoRecursion);
    private readonly MmuHooks? _hooks;
    private int _readers;
    private volatile bool _writer;

    [ThreadStatic] private static MmuLock? t_held;
    [ThreadStatic] private static bool t_heldForWrite;

    /// <summary>A lock with no test hooks.</summary>
    public MmuLock() { }

    internal MmuLock(MmuHooks? hooks) => _hooks = hooks;

    /// <summary>True if the calling thread holds any <see cref="MmuLock"/>.</summary>
    public static bool IsAnyHeldByCurrentThread => t_held is not null;

    /// <summary>True if the calling thread holds this lock (either side).</summary>
    public bool IsHeldByCurrentThread => ReferenceEquals(t_held, this);

    /// <summary>True if the calling thread holds the write side of this lock.</summary>
    public bool IsWriteHeldByCurrentThread => IsHeldByCurrentThread && t_heldForWrite;

    /// <summary>Number of threads holding the read side now (diagnostics).</summary>
    public int CurrentReaders => Volatile.Read(ref _readers);

    /// <summary>True if some thread holds the write side now (diagnostics).</summary>
    public bool IsWriteHeld => _writer;

    /// <summary>
    /// Throws <see cref="MmuLockViolationException"/> if the calling thread holds an MMU lock. Call it where
    /// an actor message is sent, another lock is taken or the thread may block, to check that mmu_lock stays a
    /// leaf. One thread-static read: cheap enough for every fault and every message; pass a constant string.
    /// </summary>
    /// <param name="action">What the caller is about to do, for the message ("send Pause to vcpu-0").</param>
    public static void AssertNotHeld(string action)
    {
        if (t_held is not null)
            throw new MmuLockViolationException($"cannot {action} while holding mmu_lock ({(t_heldForWrite ? "write" : "read")} side): mmu_lock is a leaf lock");
    }

    /// <summary>Throws unless the calling thread holds the write side (for operations that require it).</summary>
    public void AssertWriteHeld(string operation)
    {
        if (!IsWriteHeldByCurrentThread) throw new MmuLockViolationException($"{operation} requires the mmu_lock write side");
    }

    /// <summary>Throws unless the calling thread holds this lock (either side).</summary>
    public void AssertHeld(string operation)
    {
        if (!IsHeldByCurrentThread) throw new MmuLockViolationException($"{operation} requires mmu_lock");
    }

    /// <summary>Takes the read side; dispose the scope to release it.</summary>
    /// <exception cref="MmuLockViolationException">the thread already holds an MMU lock, or its vCPU is in guest mode.</exception>
    public MmuLockScope EnterRead()
    {
        CheckMayEnter("read");
        if (_hooks?.WaitUntil is { } wait)
        {
            while (!_rw.TryEnterReadLock(0)) wait(() => !_writer);
        }
        else _rw.EnterReadLock();
        Interlocked.Increment(ref _readers);
        t_held = this;
        t_heldForWrite = false;
        return new MmuLockScope(this, write: false);
    }

    /// <summary>Takes the write side; dispose the scope to release it.</summary>
    /// <exception cref="MmuLockViolationException">the thread already holds an MMU lock, or its vCPU is in guest mode.</exception>
    public MmuLockScope EnterWrite()
    {
        CheckMayEnter("write");
        if (_hooks?.WaitUntil is { } wait)
        {
            while (!_rw.TryEnterWriteLock(0)) wait(() => !_writer && Volatile.Read(ref _readers) == 0);
        }
        else _rw.EnterWriteLock();
        _writer = true;
        t_held = this;
        t_heldForWrite = true;
        return new MmuLockScope(this, write: true);
    }

    internal void Exit(bool write)
    {
        if (!ReferenceEquals(t_held, this) || t_heldForWrite != write)
            throw new MmuLockViolationException($"releasing the mmu_lock {(write ? "write" : "read")} side, which this thread does not hold");
        t_held = null;
        t_heldForWrite = false;
        if (write)
        {
            _writer = false;
            _rw.ExitWriteLock();
        }
        else
        {
            Interlocked.Decrement(ref _readers);
            _rw.ExitReadLock();
        }
    }

    private void CheckMayEnter(string side)
    {
        if (t_held is not null)
            throw new MmuLockViolationException(ReferenceEquals(t_held, this)
                ? $"taking the mmu_lock {side} side while this thread already holds it ({(t_heldForWrite ? "write" : "read")} side): mmu_lock is not recursive"
                : $"taking the mmu_lock {side} side of another MMU while holding one: MMU locks are leaves");
        if (TlbFlushParticipant.IsCurrentThreadInGuest)
            throw new MmuLockViolationException($"taking the mmu_lock {side} side while this thread's vCPU is in guest mode: a TLB flush under the write side would wait for it forever; leave guest mode first");
    }

    /// <summary>Releases the underlying lock object.</summary>
    public void Dispose() => _rw.Dispose();
}

/// <summary>A held side of an <see cref="MmuLock"/>; disposing releases it (once).</summary>
public struct MmuLockScope : IDisposable
{
    private MmuLock? _lock;
    private readonly bool _write;

    internal MmuLockScope(MmuLock mmuLock, bool write)
    {
        _lock = mmuLock;
        _write = write;
    }

    /// <summary>True if this scope holds the write side.</summary>
    public readonly bool IsWrite => _write;

    /// <summary>Releases the lock side this scope holds.</summary>
    public void Dispose()
    {
        var l = _lock;
        _lock = null;
        l?.Exit(_write);
    }
}
