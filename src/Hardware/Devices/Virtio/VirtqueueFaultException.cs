namespace Actorvisor.Hardware.Devices.Virtio;

/// <summary>
/// The driver broke the virtqueue contract (a descriptor index out of range, a loop, a chain longer than the
/// queue, an address outside guest RAM, an indirect descriptor that was not negotiated, a writable buffer
/// before a readable one, an available index running ahead of the ring): the device stops using the queue
/// and sets DEVICE_NEEDS_RESET.
/// </summary>
public sealed class VirtqueueFaultException(string message) : InvalidOperationException(message);
