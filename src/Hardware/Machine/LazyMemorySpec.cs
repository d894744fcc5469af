using Actorvisor.Hardware.Lazy;

namespace Actorvisor.Hardware.Machines;

/// <summary>
/// A region of lazy guest RAM (<see cref="LazyGuestMemory"/>): <paramref name="Size"/> bytes at guest-physical
/// <paramref name="GuestPhysicalAddress"/> in memslot <see cref="Slot"/>, whose pages come from
/// <paramref name="Store"/> on first touch. It sits above the machine's ordinary RAM (which holds the image and
/// the boot structures, written by the host before the guest runs) and below the MMIO window.
/// </summary>
/// <param name="GuestPhysicalAddress">Where the region starts: 4 KiB aligned, at or above the end of ordinary RAM.</param>
/// <param name="Size">Bytes: a positive multiple of 4 KiB; the region ends at or below the MMIO window.</param>
/// <param name="Store">Where page N of the region comes from.</param>
public sealed record LazyMemorySpec(ulong GuestPhysicalAddress, ulong Size, IBackingStore Store)
{
    /// <summary>The memslot of the lazy region (slot 0 is ordinary RAM).</summary>
    public const uint Slot = 1;

    /// <summary>Number of 4 KiB pages.</summary>
    public ulong PageCount => Size >> Native.PageSize.Shift;

    /// <summary>One past the last guest-physical address of the region.</summary>
    public ulong End => GuestPhysicalAddress + Size;
}
