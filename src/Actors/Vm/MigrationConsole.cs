using Actorvisor.Hardware.Devices;

namespace Actorvisor.Actors.Vm;

/// <summary>
/// The serial console of a VM arriving by live migration: its machine is built (by the migration's receiver) before
/// its VmActor exists, so the UART writes here, and this forwards to the VmActor's console relay once the VM is built
/// (<see cref="Attach"/>). Anything written before then (nothing, normally: the guest runs only after) is kept and
/// forwarded first.
/// </summary>
public sealed class MigrationConsole : IConsoleSink
{
    private readonly object _gate = new();
    private readonly List<byte> _early = [];
    private IConsoleSink? _target;

    /// <summary>From now on the bytes go to <paramref name="target"/>, after what was written before.</summary>
    public void Attach(IConsoleSink target)
    {
        ArgumentNullException.ThrowIfNull(target);
        lock (_gate)
        {
            if (_early.Count > 0) target.Write(_early.ToArray());
            _early.Clear();
            _target = target;
        }
    }

    /// <inheritdoc />
    public void Write(ReadOnlySpan<byte> bytes)
    {
        lock (_gate)
        {
            if (_target is { } target) target.Write(bytes);
            else _early.AddRange(bytes);
        }
    }
}
