namespace Actorvisor.Hardware.Devices.Virtio;

/// <summary>
/// The register offsets of a virtio-mmio device, version 2 (virtio 1.x, section 4.2.2). Every register is 32 bits
/// wide and accessed as one aligned 32-bit access; the device configuration space starts at <see cref="Config"/>.
/// </summary>
public static class VirtioMmioRegister
{
    /// <summary>"virt" (0x74726976).</summary>
    public const uint MagicValue = 0x000;
    /// <summary>2: the virtio 1.x register layout.</summary>
    public const uint Version = 0x004;
    /// <summary>The virtio device type (2 = block).</summary>
    public const uint DeviceId = 0x008;
    /// <summary>The subsystem vendor.</summary>
    public const uint VendorId = 0x00c;
    /// <summary>32 bits of the device's features, chosen by <see cref="DeviceFeaturesSel"/>.</summary>
    public const uint DeviceFeatures = 0x010;
    /// <summary>Which 32-bit word of the device features <see cref="DeviceFeatures"/> shows.</summary>
    public const uint DeviceFeaturesSel = 0x014;
    /// <summary>32 bits of the features the driver accepted, chosen by <see cref="DriverFeaturesSel"/>.</summary>
    public const uint DriverFeatures = 0x020;
    /// <summary>Which 32-bit word of the driver features <see cref="DriverFeatures"/> sets.</summary>
    public const uint DriverFeaturesSel = 0x024;
    /// <summary>The queue the queue registers below refer to.</summary>
    public const uint QueueSel = 0x030;
    /// <summary>Largest queue size the device supports (0: no such queue).</summary>
    public const uint QueueNumMax = 0x034;
    /// <summary>The queue size the driver chose.</summary>
    public const uint QueueNum = 0x038;
    /// <summary>1 once the driver has set the queue up; writing 0 is not allowed while the device runs.</summary>
    public const uint QueueReady = 0x044;
    /// <summary>Write-only: the index of a queue with new buffers.</summary>
    public const uint QueueNotify = 0x050;
    /// <summary>Read-only: bit 0 used buffer, bit 1 configuration change.</summary>
    public const uint InterruptStatus = 0x060;
    /// <summary>Write-only: the interrupt bits the driver has handled.</summary>
    public const uint InterruptAck = 0x064;
    /// <summary>The device status (<see cref="VirtioDeviceStatus"/>); writing 0 resets the device.</summary>
    public const uint Status = 0x070;
    /// <summary>Descriptor table address, low 32 bits.</summary>
    public const uint QueueDescLow = 0x080;
    /// <summary>Descriptor table address, high 32 bits.</summary>
    public const uint QueueDescHigh = 0x084;
    /// <summary>Driver area (available ring) address, low 32 bits.</summary>
    public const uint QueueDriverLow = 0x090;
    /// <summary>Driver area address, high 32 bits.</summary>
    public const uint QueueDriverHigh = 0x094;
    /// <summary>Device area (used ring) address, low 32 bits.</summary>
    public const uint QueueDeviceLow = 0x0a0;
    /// <summary>Device area address, high 32 bits.</summary>
    public const uint QueueDeviceHigh = 0x0a4;
    /// <summary>Changes whenever the configuration space changes.</summary>
    public const uint ConfigGeneration = 0x0fc;
    /// <summary>Start of the device-specific configuration space.</summary>
    public const uint Config = 0x100;

    /// <summary>The magic value: "virt" in little-endian.</summary>
    public const uint Magic = 0x7472_6976;
    /// <summary>The register layout version this transport implements.</summary>
    public const uint LayoutVersion = 2;
    /// <summary>The vendor id Actorvisor reports ("AVSR").</summary>
    public const uint ActorvisorVendor = 0x5253_5641;
    /// <summary>The MMIO window one device takes (a page, as Firecracker and QEMU place them).</summary>
    public const ulong WindowSize = 0x1000;
}
