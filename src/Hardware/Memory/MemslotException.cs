namespace Actorvisor.Hardware.Memory;

/// <summary>An invalid memslot or memslot change (overlap, misalignment, zero size, unknown slot).</summary>
public sealed class MemslotException(string message) : ArgumentException(message);
