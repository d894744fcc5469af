namespace Actorvisor.Hardware.Memory;

/// <summary>
/// A device asked for guest-physical bytes that no memslot holds (or wrote to a read-only slot): the access was
/// refused before any host memory was touched.
/// </summary>
public sealed class GuestMemoryFaultException(string message) : InvalidOperationException(message);
