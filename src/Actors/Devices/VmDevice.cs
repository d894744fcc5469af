namespace Actorvisor.Actors.Devices;

/// <summary>
/// A device of a VM as its actor sees it: a name and the device object (which sits on the device bus and is
/// called inline on vCPU threads). Released once, by its DeviceActor in teardown or by the VmActor's
/// fallback teardown: a disposable device is disposed then.
/// </summary>
public sealed class VmDevice
{
    private int _released;

    /// <summary>A device called <paramref name="name"/>.</summary>
    public VmDevice(string name, object device)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        Name = name;
        Device = device ?? throw new ArgumentNullException(nameof(device));
    }

    /// <summary>The device's name (unique within its VM), e.g. "uart0".</summary>
    public string Name { get; }

    /// <summary>The device object.</summary>
    public object Device { get; }

    /// <summary>True once released.</summary>
    public bool IsReleased => Volatile.Read(ref _released) != 0;

    /// <summary>Releases the device (disposes it if disposable). Idempotent; only after every vCPU thread has stopped.</summary>
    public void Release()
    {
        if (Interlocked.Exchange(ref _released, 1) == 0 && Device is IDisposable d) d.Dispose();
    }
}
