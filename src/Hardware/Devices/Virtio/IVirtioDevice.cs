namespace Actorvisor.Hardware.Devices.Virtio;

/// <summary>
/// One kind of virtio device (block, ...) behind a <see cref="VirtioMmioTransport"/>: what it offers the driver
/// (type, features, queues, configuration space) and how it serves a queue. The transport calls
/// <see cref="ServeQueue"/> off the vCPU thread (the device's actor), one call at a time, and never while it is
/// resetting the device.
/// </summary>
public interface IVirtioDevice
{
    /// <summary>A short name for errors and listings.</summary>
    string Name { get; }

    /// <summary>The virtio device id (section 5: 2 = block, 1 = network, 19 = socket).</summary>
    uint DeviceType { get; }

    /// <summary>The device-specific feature bits it offers (the transport adds its own).</summary>
    ulong DeviceFeatures { get; }

    /// <summary>Number of virtqueues.</summary>
    int QueueCount { get; }

    /// <summary>The largest size of each queue (a power of 2).</summary>
    ushort MaxQueueSize { get; }

    /// <summary>Fills <paramref name="data"/> from the configuration space at <paramref name="offset"/> (bytes past its end read as 0).</summary>
    void ReadConfig(uint offset, Span<byte> data);

    /// <summary>The driver wrote the configuration space (ignored where the space is read-only).</summary>
    void WriteConfig(uint offset, ReadOnlySpan<byte> data);

    /// <summary>
    /// Serves queue <paramref name="queue"/>: takes up to <paramref name="budget"/> chains, completes them, and says
    /// whether more may be waiting (the caller then serves the queue again, so that one busy queue cannot hold
    /// the device's thread forever).
    /// </summary>
    /// <exception cref="VirtqueueFaultException">the ring is malformed; the transport marks the device for reset.</exception>
    bool ServeQueue(int queue, SplitVirtqueue virtqueue, ulong negotiatedFeatures, int budget);

    /// <summary>The driver reset the device: forget per-session state.</summary>
    void Reset();
}
