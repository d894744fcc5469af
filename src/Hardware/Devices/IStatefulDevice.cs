namespace Actorvisor.Hardware.Devices;

/// <summary>
/// A device whose guest-visible state a snapshot keeps: it saves it as an opaque, versioned blob and loads one
/// back into a freshly built device of the same kind (a restored VM, before its vCPUs run).
/// </summary>
public interface IStatefulDevice
{
    /// <summary>The device's name (the snapshot's manifest lists each device's state under it).</summary>
    string Name { get; }

    /// <summary>The device's state now (thread-safe).</summary>
    byte[] SaveState();

    /// <summary>Loads a state <see cref="SaveState"/> produced.</summary>
    /// <exception cref="FormatException">not this kind of device's state, or another version.</exception>
    void RestoreState(ReadOnlySpan<byte> state);
}
