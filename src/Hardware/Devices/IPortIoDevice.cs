using Actorvisor.Hardware.Accel;

namespace Actorvisor.Hardware.Devices;

/// <summary>
/// A device on the x86 I/O port bus. The <see cref="DeviceBus"/> calls it on the vCPU thread for every
/// access that starts inside one of its registered port ranges.
/// </summary>
public interface IPortIoDevice
{
    /// <summary>A short name for errors and listings ("com1", "debug-exit").</summary>
    string Name { get; }

    /// <summary>
    /// Handles an access of <c>data.Length</c> bytes (1, 2 or 4) at <paramref name="offset"/> from the base
    /// port the device was registered at. For <see cref="IoDirection.In"/> the device fills <paramref name="data"/>.
    /// </summary>
    ExitAction OnPortIo(ushort offset, IoDirection direction, Span<byte> data);
}
