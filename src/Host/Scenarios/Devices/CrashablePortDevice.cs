using Actorvisor.Hardware.Accel;
using Actorvisor.Hardware.Devices;

namespace Actorvisor.Host.Scenarios.Devices;

/// <summary>
/// A port-I/O device for fault injection: it accepts and counts guest accesses (reads return zeros) until
/// <see cref="Crash"/> arms it; its next access then throws on the vCPU thread, exactly where a buggy
/// device's exception would surface. The VM must fail because of it; the node and other VMs must not.
/// </summary>
public sealed class CrashablePortDevice(string name) : IPortIoDevice
{
    private long _accesses;
    private int _armed;

    /// <inheritdoc />
    public string Name { get; } = name;

    /// <summary>Accesses handled before the crash.</summary>
    public long Accesses => Interlocked.Read(ref _accesses);

    /// <summary>True once <see cref="Crash"/> was called.</summary>
    public bool IsArmed => Volatile.Read(ref _armed) != 0;

    /// <summary>Makes the next access throw.</summary>
    public void Crash() => Volatile.Write(ref _armed, 1);

    /// <inheritdoc />
    public ExitAction OnPortIo(ushort offset, IoDirection direction, Span<byte> data)
    {
        if (IsArmed)
            throw new InvalidOperationException($"device '{Name}' crashed: fault injected by the scenario after {Accesses} accesses");
        Interlocked.Increment(ref _accesses);
        if (direction == IoDirection.In) data.Clear();
        return ExitAction.Continue;
    }
}
