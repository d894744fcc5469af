namespace Actorvisor.Hardware.Devices.Virtio;

/// <summary>One descriptor of a chain: <see cref="Length"/> guest-physical bytes at <see cref="Address"/>, written by the device if <see cref="DeviceWritable"/>.</summary>
public readonly record struct VirtqueueBuffer(ulong Address, uint Length, bool DeviceWritable);
