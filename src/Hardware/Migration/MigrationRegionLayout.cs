namespace Actorvisor.Hardware.Migration;

/// <summary>One memslot of the migrating VM as the target allocates it: slot id, guest-physical base and size in bytes.</summary>
public sealed record MigrationRegionLayout(uint Slot, ulong GuestPhysicalAddress, ulong Size)
{
    /// <summary>Number of 4 KiB pages.</summary>
    public ulong PageCount => Size >> Native.PageSize.Shift;
}
