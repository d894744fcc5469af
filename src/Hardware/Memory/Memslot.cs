using Actorvisor.Hardware.Native;

namespace Actorvisor.Hardware.Memory;

/// <summary>
/// One guest-physical range backed by host memory: what KVM_SET_USER_MEMORY_REGION describes.
/// Immutable; validated on construction.
/// </summary>
public sealed record Memslot
{
    /// <summary>Creates a validated memslot.</summary>
    /// <exception cref="MemslotException">size zero, or base/size/host address not 4 KiB aligned.</exception>
    public Memslot(uint slot, ulong guestPhysAddr, ulong size, nint hostAddress, MemslotFlags flags = MemslotFlags.None)
    {
        if (size == 0) throw new MemslotException($"memslot {slot}: size must be greater than zero");
        if (!PageSize.IsAligned(guestPhysAddr)) throw new MemslotException($"memslot {slot}: guest physical address 0x{guestPhysAddr:x} is not 4 KiB aligned");
        if (!PageSize.IsAligned(size)) throw new MemslotException($"memslot {slot}: size 0x{size:x} is not a multiple of 4 KiB");
        if (!PageSize.IsAligned((ulong)hostAddress)) throw new MemslotException($"memslot {slot}: host address 0x{hostAddress:x} is not 4 KiB aligned");
        if (guestPhysAddr + size < guestPhysAddr) throw new MemslotException($"memslot {slot}: range 0x{guestPhysAddr:x}+0x{size:x} wraps around");
        Slot = slot;
        GuestPhysAddr = guestPhysAddr;
        Size = size;
        HostAddress = hostAddress;
        Flags = flags;
    }

    /// <summary>A memslot covering all of <paramref name="memory"/>.</summary>
    public static Memslot For(uint slot, ulong guestPhysAddr, HostMemory memory, MemslotFlags flags = MemslotFlags.None) =>
        new(slot, guestPhysAddr, memory.Size, memory.Address, flags);

    /// <summary>Slot id (unique within a VM).</summary>
    public uint Slot { get; }
    /// <summary>First guest-physical address.</summary>
    public ulong GuestPhysAddr { get; }
    /// <summary>Size in bytes (multiple of 4 KiB).</summary>
    public ulong Size { get; }
    /// <summary>Host virtual address backing <see cref="GuestPhysAddr"/>.</summary>
    public nint HostAddress { get; }
    /// <summary>Read-only, log-dirty.</summary>
    public MemslotFlags Flags { get; init; }
    /// <summary>
    /// Which pages of the host memory are populated, for memory whose pages arrive lazily
    /// (<see cref="Lazy.LazyGuestMemory"/>); null for plain memory, which is populated throughout.
    /// </summary>
    public IPagePopulation? Population { get; init; }

    /// <summary>One past the last guest-physical address.</summary>
    public ulong End => GuestPhysAddr + Size;
    /// <summary>Number of 4 KiB pages.</summary>
    public ulong Pages => Size >> PageSize.Shift;
    /// <summary>First guest frame number.</summary>
    public ulong BaseGfn => GuestPhysAddr >> PageSize.Shift;
    /// <summary>True if guest writes must exit instead of reaching memory.</summary>
    public bool IsReadOnly => (Flags & MemslotFlags.ReadOnly) != 0;
    /// <summary>True if writes are recorded in a dirty bitmap.</summary>
    public bool LogsDirtyPages => (Flags & MemslotFlags.LogDirtyPages) != 0;

    /// <summary>
    /// True if the host page behind <paramref name="gpa"/> (inside the slot) is populated, so that touching it
    /// cannot block on a backing store; always true without a <see cref="Population"/>.
    /// </summary>
    public bool IsPopulated(ulong gpa) => Population is not { } population || population.IsPopulated(HostAddressOf(gpa));

    /// <summary>True if <paramref name="gpa"/> falls inside this slot.</summary>
    public bool Contains(ulong gpa) => gpa >= GuestPhysAddr && gpa < End;

    /// <summary>True if this slot and <paramref name="other"/> share a guest-physical byte.</summary>
    public bool Overlaps(Memslot other) => GuestPhysAddr < other.End && other.GuestPhysAddr < End;

    /// <summary>The host address of <paramref name="gpa"/>, which must be inside the slot.</summary>
    public nint HostAddressOf(ulong gpa) => Contains(gpa)
        ? HostAddress + (nint)(gpa - GuestPhysAddr)
        : throw new ArgumentOutOfRangeException(nameof(gpa), $"0x{gpa:x} is outside memslot {Slot}");

    /// <inheritdoc />
    public override string ToString() => $"slot {Slot} [0x{GuestPhysAddr:x}, 0x{End:x}){(IsReadOnly ? " ro" : "")}{(LogsDirtyPages ? " log-dirty" : "")}";
}
