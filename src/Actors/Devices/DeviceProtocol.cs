namespace Actorvisor.Actors.Devices;

// Messages handled by DeviceActor.

/// <summary>
/// Barrier for the teardown's flush step: replies <see cref="DeviceFlushed"/> after everything queued to the
/// device actor before it has been handled.
/// </summary>
public sealed record FlushDevice
{
    /// <summary>The one instance.</summary>
    public static readonly FlushDevice Instance = new();
}

/// <summary>Releases the device (teardown, after the vCPU threads stopped). Replies <see cref="DeviceReleased"/>.</summary>
public sealed record ReleaseDevice
{
    /// <summary>The one instance.</summary>
    public static readonly ReleaseDevice Instance = new();
}

/// <summary>Device <paramref name="Name"/> has no outstanding work.</summary>
public sealed record DeviceFlushed(string Name);

/// <summary>Device <paramref name="Name"/> has been released.</summary>
public sealed record DeviceReleased(string Name);

/// <summary>Serve virtqueue <paramref name="Queue"/> of the device (sent by the device's notification path to its VirtioDeviceActor, and by the actor to itself while work remains).</summary>
public sealed record ServeVirtqueue(int Queue);
