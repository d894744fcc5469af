using System.Text;
using Actorvisor.Host.Scenarios.Language;

namespace Actorvisor.Host.Scenarios.Nodes;

/// <summary>
/// What a scenario has seen of one VM: its serial output so far, its state, how it ended. Fed by the node
/// from the VM's event stream (on the runtime's threads); steps wait on it for a condition, and every change
/// re-checks the waiting conditions, so a wait ends on the event itself, not on polling.
/// </summary>
public sealed class VmObservation
{
    /// <summary>How much of the serial output <see cref="SerialTail"/> shows by default.</summary>
    public const int DefaultTailChars = 1500;

    private readonly object _gate = new();
    private readonly StringBuilder _serial = new();
    private readonly List<Action> _waiters = [];
    private VmStateName _state = VmStateName.Created;
    private VmEnd? _end;

    /// <summary>The VM's name.</summary>
    public required string VmName { get; init; }

    /// <summary>Where the next wait-for-serial starts looking (the end of the previous match).</summary>
    public int SerialCursor { get; set; }

    /// <summary>The state last reported.</summary>
    public VmStateName State { get { lock (_gate) return _state; } }

    /// <summary>How the VM ended, once it has.</summary>
    public VmEnd? End { get { lock (_gate) return _end; } }

    /// <summary>Everything the guest printed so far.</summary>
    public string Serial { get { lock (_gate) return _serial.ToString(); } }

    /// <summary>The last <paramref name="maxChars"/> characters of serial output ("" if none).</summary>
    public string SerialTail(int maxChars = DefaultTailChars)
    {
        lock (_gate)
        {
            int start = Math.Max(0, _serial.Length - maxChars);
            var text = _serial.ToString(start, _serial.Length - start);
            return start > 0 ? "..." + text : text;
        }
    }

    /// <summary>Appends serial output.</summary>
    public void OnSerial(string text)
    {
        if (text.Length == 0) return;
        lock (_gate) _serial.Append(text);
        Changed();
    }

    /// <summary>Records a new state. Destroyed is final: the VM's own last events may arrive after its node confirmed the destroy.</summary>
    public void OnState(VmStateName state)
    {
        lock (_gate)
        {
            if (_state == VmStateName.Destroyed) return;
            _state = state;
        }
        Changed();
    }

    /// <summary>Records the end (and the state it implies).</summary>
    public void OnEnded(VmEnd end)
    {
        lock (_gate)
        {
            _end ??= end;
            if (_state is not VmStateName.Destroyed) _state = end.Kind == OutcomeKind.Failed ? VmStateName.Failed : VmStateName.Stopped;
        }
        Changed();
    }

    /// <summary>
    /// Completes with <paramref name="probe"/>'s first non-null answer, checked now and after every change;
    /// cancelled with <paramref name="cancellationToken"/>.
    /// </summary>
    public async Task<T> WaitForAsync<T>(Func<VmObservation, T?> probe, CancellationToken cancellationToken) where T : class
    {
        var done = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        void Check()
        {
            try
            {
                if (probe(this) is { } answer) done.TrySetResult(answer);
            }
            catch (Exception e)
            {
                done.TrySetException(e);
            }
        }
        lock (_gate) _waiters.Add(Check);
        try
        {
            Check();
            await using var registration = cancellationToken.Register(() => done.TrySetCanceled(cancellationToken));
            return await done.Task.ConfigureAwait(false);
        }
        finally
        {
            lock (_gate) _waiters.Remove(Check);
        }
    }

    private void Changed()
    {
        Action[] waiters;
        lock (_gate) waiters = [.. _waiters];
        foreach (var check in waiters) check();
    }
}
