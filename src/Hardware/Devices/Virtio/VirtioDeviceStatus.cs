namespace Actorvisor.Hardware.Devices.Virtio;

/// <summary>The device status bits (virtio 1.x section 2.1) the driver sets as it brings a device up.</summary>
[Flags]
public enum VirtioDeviceStatus : uint
{
    /// <summary>Reset (writing 0).</summary>
    None = 0,
    /// <summary>The guest has found the device.</summary>
    Acknowledge = 1,
    /// <summary>The guest knows how to drive it.</summary>
    Driver = 2,
    /// <summary>The driver is set up and ready to drive the device.</summary>
    DriverOk = 4,
    /// <summary>Feature negotiation is complete (the device clears it again if it refuses the driver's features).</summary>
    FeaturesOk = 8,
    /// <summary>The device has met an error it cannot recover from (a malformed ring): the driver must reset it.</summary>
    DeviceNeedsReset = 0x40,
    /// <summary>The guest has given up on the device.</summary>
    Failed = 0x80,
}
