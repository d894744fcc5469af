namespace Actorvisor.Hardware.Lazy;

/// <summary>
/// The teardown gate of lazy memory: installs enter and leave it; closing it refuses new entries and waits
/// for the ones inside to leave. After <see cref="Close"/> returns nothing is inside and nothing can enter,
/// which is what lets the owner unmap the memory with no install racing it (issue 6 item 4, the
/// kvm_destroy_vm rule: no worker writes guest memory after the unmap).
/// One word holds both the closed bit and the count of installs inside, so entering is one CAS.
/// </summary>
public sealed class InstallGate : IDisposable
{
    private const int ClosedBit = 1 << 30;
    private int _state;
    private readonly ManualResetEventSlim _drained = new(false);

    /// <summary>True once <see cref="Close"/> has started.</summary>
    public bool IsClosed => (Volatile.Read(ref _state) & ClosedBit) != 0;

    /// <summary>Installs currently inside the gate.</summary>
    public int Inside => Volatile.Read(ref _state) & ~ClosedBit;

    /// <summary>Enters the gate; false if it is closed (then <see cref="Exit"/> must not be called).</summary>
    public bool TryEnter()
    {
        int s = Volatile.Read(ref _state);
        while (true)
        {
            if ((s & ClosedBit) != 0) return false;
            int seen = Interlocked.CompareExchange(ref _state, s + 1, s);
            if (seen == s) return true;
            s = seen;
        }
    }

    /// <summary>Leaves the gate after a successful <see cref="TryEnter"/>.</summary>
    public void Exit()
    {
        int s = Interlocked.Decrement(ref _state);
        if (s == ClosedBit) _drained.Set(); // the last one out of a closing gate
    }

    /// <summary>Refuses new entries and waits until every install inside has left. Idempotent.</summary>
    public void Close()
    {
        int before = Interlocked.Or(ref _state, ClosedBit);
        if ((before & ~ClosedBit) == 0) _drained.Set();
        _drained.Wait();
    }

    /// <summary>Releases the wait handle; call after <see cref="Close"/>.</summary>
    public void Dispose() => _drained.Dispose();
}
