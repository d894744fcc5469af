using Actorvisor.Hardware.Accel;

namespace Actorvisor.Hardware.Devices;

/// <summary>
/// A memory-mapped device. The <see cref="DeviceBus"/> calls it on the vCPU thread for every access that
/// starts inside one of its registered guest-physical ranges.
/// </summary>
public interface IMmioDevice
{
    /// <summary>A short name for errors and listings.</summary>
    string Name { get; }

    /// <summary>
    /// Handles an access of <c>data.Length</c> bytes at <paramref name="offset"/> from the base address the
    /// device was registered at. For reads the device fills <paramref name="data"/>.
    /// </summary>
    ExitAction OnMmio(ulong offset, bool isWrite, Span<byte> data);
}
