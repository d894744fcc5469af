using System.Buffers.Binary;

namespace Actorvisor.Hardware.Memory;

/// <summary>
/// Guest RAM as a device sees it (DMA): reads and writes by guest-physical address, each checked against the
/// VM's current memslots before a byte is touched. A range must lie inside one slot; a write must not go to a
/// read-only slot. Everything else is refused with a <see cref="GuestMemoryFaultException"/>, so a hostile
/// address in a ring or a descriptor can never reach host memory outside the guest. Copies go through
/// <see cref="GuestMemoryAccess"/> (native code), so lazy guest RAM is filled on first touch as for a vCPU.
/// </summary>
public sealed unsafe class GuestPhysicalMemory
{
    private readonly Func<MemslotSet> _slots;

    /// <summary>Guest memory as described by <paramref name="slots"/>, read afresh on every access (the VM's live snapshot).</summary>
    public GuestPhysicalMemory(Func<MemslotSet> slots)
    {
        _slots = slots ?? throw new ArgumentNullException(nameof(slots));
    }

    /// <summary>Guest memory of a fixed memslot set (tests, tools).</summary>
    public GuestPhysicalMemory(MemslotSet slots) : this(() => slots)
    {
        ArgumentNullException.ThrowIfNull(slots);
    }

    /// <summary>The VM's memslots as they are now, for checking and translating the many ranges of one step against one set.</summary>
    public GuestMemoryView View() => new(_slots());

    /// <summary>True if [<paramref name="gpa"/>, +<paramref name="length"/>) lies inside one slot (writable if <paramref name="forWrite"/>).</summary>
    public bool Contains(ulong gpa, ulong length, bool forWrite) => TryTranslate(gpa, length, forWrite, out _);

    /// <summary>Copies guest bytes at <paramref name="gpa"/> into <paramref name="destination"/>.</summary>
    /// <exception cref="GuestMemoryFaultException">the range is not guest RAM.</exception>
    public void Read(ulong gpa, Span<byte> destination)
    {
        if (destination.IsEmpty) return;
        GuestMemoryAccess.CopyOut(Translate(gpa, (ulong)destination.Length, forWrite: false), destination);
    }

    /// <summary>Copies <paramref name="source"/> to guest-physical <paramref name="gpa"/>.</summary>
    /// <exception cref="GuestMemoryFaultException">the range is not writable guest RAM.</exception>
    public void Write(ulong gpa, ReadOnlySpan<byte> source)
    {
        if (source.IsEmpty) return;
        GuestMemoryAccess.CopyIn(source, Translate(gpa, (ulong)source.Length, forWrite: true));
    }

    /// <summary>
    /// The host address of guest-physical [<paramref name="gpa"/>, +<paramref name="length"/>), for I/O straight into or
    /// out of guest RAM (preadv/pwritev): the range is checked against the live memslots now, as every copy is. The
    /// address stays valid while that slot is mapped; the caller must not keep it past the request it serves.
    /// </summary>
    /// <exception cref="GuestMemoryFaultException">the range is not (writable, if <paramref name="forWrite"/>) guest RAM inside one slot.</exception>
    public nint HostAddressOf(ulong gpa, ulong length, bool forWrite) => Translate(gpa, length, forWrite);

    /// <summary>A little-endian 16-bit value at <paramref name="gpa"/>, read with acquire semantics (a ring index the driver publishes).</summary>
    /// <exception cref="GuestMemoryFaultException">the address is not guest RAM or not 2-byte aligned.</exception>
    public ushort ReadUInt16Acquire(ulong gpa)
    {
        var host = TranslateAligned(gpa, 2, forWrite: false);
        // One aligned load, as the driver's own store is one aligned store; the acquire orders the ring reads after it.
        return Volatile.Read(ref *(ushort*)host);
    }

    /// <summary>Stores a 16-bit value at <paramref name="gpa"/> with release semantics: every earlier store is visible first (a ring index the device publishes).</summary>
    /// <exception cref="GuestMemoryFaultException">the address is not writable guest RAM or not 2-byte aligned.</exception>
    public void WriteUInt16Release(ulong gpa, ushort value)
    {
        var host = TranslateAligned(gpa, 2, forWrite: true);
        Volatile.Write(ref *(ushort*)host, value);
    }

    /// <summary>A little-endian 16-bit value at <paramref name="gpa"/> (no ordering).</summary>
    /// <exception cref="GuestMemoryFaultException">the range is not guest RAM.</exception>
    public ushort ReadUInt16(ulong gpa)
    {
        Span<byte> b = stackalloc byte[2];
        Read(gpa, b);
        return BinaryPrimitives.ReadUInt16LittleEndian(b);
    }

    /// <summary>Stores a little-endian 32-bit value at <paramref name="gpa"/>.</summary>
    /// <exception cref="GuestMemoryFaultException">the range is not writable guest RAM.</exception>
    public void WriteUInt32(ulong gpa, uint value)
    {
        Span<byte> b = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(b, value);
        Write(gpa, b);
    }

    private nint Translate(ulong gpa, ulong length, bool forWrite)
    {
        if (!TryTranslate(gpa, length, forWrite, out nint host)) throw Fault(gpa, length, forWrite);
        return host;
    }

    /// <summary>The fault a device access to [<paramref name="gpa"/>, +<paramref name="length"/>) outside (writable) guest RAM raises.</summary>
    internal static GuestMemoryFaultException Fault(ulong gpa, ulong length, bool forWrite) => new(
        $"guest-physical range 0x{gpa:x}+0x{length:x} is not {(forWrite ? "writable " : "")}guest RAM (it must lie inside one {(forWrite ? "writable " : "")}memslot)");

    private nint TranslateAligned(ulong gpa, ulong length, bool forWrite)
    {
        if ((gpa & (length - 1)) != 0) throw new GuestMemoryFaultException($"guest-physical address 0x{gpa:x} is not {length}-byte aligned");
        var host = Translate(gpa, length, forWrite);
        // The page may be lazy guest RAM: make it present from native code before the managed access.
        GuestMemoryAccess.Prefault(host);
        return host;
    }

    private bool TryTranslate(ulong gpa, ulong length, bool forWrite, out nint host) => View().TryTranslate(gpa, length, forWrite, out host);
}
