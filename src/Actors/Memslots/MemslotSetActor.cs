using Actorvisor.Actors.Vm;
using Actorvisor.Hardware.Memory;
using Akka.Actor;

namespace Actorvisor.Actors.Memslots;

/// <summary>
/// The single writer of one VM's memslots (kvm->slots_lock, locking.rst section 1): applies changes to the
/// accelerator one at a time, publishes each new immutable snapshot to the vCPU threads with a volatile
/// write, and retires old snapshots (releases removed slots' backings) only after every vCPU has passed
/// a quiescent point: the SRCU grace period, never blocking its mailbox while waiting.
/// </summary>
internal sealed class MemslotSetActor : ReceiveActor
{
    private readonly MemslotTable _table;
    // Marks the retirements started by RetireAllMemslots; they are answered together.
    private static readonly object TeardownToken = new();
    private readonly List<uint> _releasedByTeardown = new();
    private IActorRef? _retireAllRequester;
    private bool _retiringAll;

    /// <summary>Props for the memslot writer of one VM.</summary>
    internal static Props Props(MemslotTable table) => Akka.Actor.Props.Create(() => new MemslotSetActor(table));

    public MemslotSetActor(MemslotTable table)
    {
        _table = table;
        Accepting();
    }

    /// <inheritdoc />
    protected override void PreStart()
    {
        var self = Self;
        _table.GracePeriod.OnReaderQuiesced(() => self.Tell(QuiescentPointPassed.Instance));
    }

    /// <inheritdoc />
    protected override void PostStop() => _table.GracePeriod.OnReaderQuiesced(() => { });

    private void Accepting()
    {
        Receive<SetMemslot>(m => Change(() => _table.Set(m.Slot, m.Backing, Sender)));
        Receive<DeleteMemslot>(m => Change(() => _table.Delete(m.SlotId, Sender)));
        Receive<GetMemslots>(_ => Sender.Tell(new MemslotsSnapshot(_table.View.Current)));
        Receive<ReadGuestMemoryFor>(Read);
        Receive<QuiescentPointPassed>(_ => Retire());
        Receive<RetireAllMemslots>(_ =>
        {
            _retireAllRequester = Sender;
            _retiringAll = true;
            _table.DeleteAll(TeardownToken);
            Become(Retiring);
            Retire();
        });
    }

    // After RetireAll the VM is being torn down: no new slots.
    private void Retiring()
    {
        Receive<SetMemslot>(_ => Sender.Tell(new MemslotRequestFailed("the VM is being torn down: memslots are being retired")));
        Receive<DeleteMemslot>(_ => Sender.Tell(new MemslotRequestFailed("the VM is being torn down: memslots are being retired")));
        Receive<GetMemslots>(_ => Sender.Tell(new MemslotsSnapshot(_table.View.Current)));
        Receive<ReadGuestMemoryFor>(m => Sender.Tell(new VmRequestFailed(m.VmName, new VmError.NotAccepting(VmState.Stopping))));
        Receive<QuiescentPointPassed>(_ => Retire());
        Receive<RetireAllMemslots>(_ => { _retireAllRequester = Sender; Retire(); });
    }

    // Slots are replaced and their backings released only here, so the snapshot read stays mapped for the copy.
    private void Read(ReadGuestMemoryFor m)
    {
        var (address, length) = (m.Request.Address, m.Request.Length);
        var slots = _table.View.Current;
        var bytes = new byte[length];
        Sender.Tell(GuestMemoryReader.TryCopy(slots, address, bytes) is { } unbacked
            ? new VmRequestFailed(m.VmName, new VmError.GuestMemoryOutOfRange(address, (ulong)length, unbacked, GuestMemoryReader.Describe(slots)))
            : new GuestMemoryRead(m.VmName, address, bytes));
    }

    private void Change(Func<long> apply)
    {
        long generation;
        try
        {
            generation = apply();
        }
        catch (MemslotException e)
        {
            Sender.Tell(new MemslotRequestFailed(e.Message));
            return;
        }
        Sender.Tell(new MemslotsPublished(generation));
        Retire();
    }

    private void Retire()
    {
        foreach (var done in _table.CompleteRetirements())
        {
            if (ReferenceEquals(done.Requester, TeardownToken)) _releasedByTeardown.AddRange(done.ReleasedSlots);
            else if (done.Requester is IActorRef requester && !requester.IsNobody())
                requester.Tell(new MemslotsRetired(done.Generation, done.ReleasedSlots));
        }
        if (_retiringAll && !_table.HasPendingRetirements && _retireAllRequester is not null)
        {
            _retireAllRequester.Tell(new MemslotsRetired(_table.View.Current.Generation, _releasedByTeardown.ToArray()));
            _retireAllRequester = null;
        }
    }
}
