using Actorvisor.Hardware.Lazy;
using Actorvisor.Hardware.Memory;
using Actorvisor.Hardware.Native;

namespace Actorvisor.Hardware.Snapshots;

/// <summary>
/// One region of guest memory to save: memslot <see cref="Slot"/> at <see cref="GuestPhysicalAddress"/> over
/// <see cref="Memory"/>. A lazy region (<see cref="Lazy"/> set) may not have every page yet: a missing page is read
/// from its <see cref="Store"/> (what the guest would get on first touch), never touched in the mapping.
/// </summary>
public sealed record SnapshotMemoryRegion(uint Slot, ulong GuestPhysicalAddress, HostMemory Memory, LazyGuestMemory? Lazy = null, IBackingStore? Store = null)
{
    /// <summary>Bytes in the region.</summary>
    public ulong Size => Memory.Size;

    /// <summary>Number of 4 KiB pages.</summary>
    public ulong PageCount => Size >> PageSize.Shift;

    /// <summary>Copies page <paramref name="index"/> into <paramref name="page"/> (4096 bytes) as the guest would read it.</summary>
    /// <exception cref="BackingStoreException">a missing lazy page cannot be read from its store.</exception>
    public void ReadPage(ulong index, Memory<byte> page)
    {
        if (Lazy is { } lazy && !lazy.IsPresent(index))
        {
            if (Store is null) throw new InvalidOperationException($"lazy region of memslot {Slot}: page {index} is missing and no store is known");
            var read = Store.ReadPageAsync(index, page);
            var content = read.IsCompleted ? read.Result : read.AsTask().GetAwaiter().GetResult();
            if (content == PageContent.Zero) page.Span.Clear();
            return;
        }
        Memory.Read(index << PageSize.Shift, page.Span);
    }
}
