namespace Actorvisor.Hardware.Memory;

/// <summary>
/// Guest RAM as one memslot set describes it, taken once from a <see cref="GuestPhysicalMemory"/> for a step that
/// checks or translates many ranges at once (the buffers of one descriptor chain): the same rules as
/// <see cref="GuestPhysicalMemory"/> (a range inside one slot, a write not into a read-only slot), without reading the
/// VM's live set again for every range. Owns nothing but the set; keep it for that one step only, since the VM's slots
/// may change after it.
/// </summary>
public readonly struct GuestMemoryView
{
    private readonly MemslotSet _slots;

    /// <summary>A view of <paramref name="slots"/>.</summary>
    public GuestMemoryView(MemslotSet slots)
    {
        _slots = slots ?? throw new ArgumentNullException(nameof(slots));
    }

    /// <summary>True and the host address if [<paramref name="gpa"/>, +<paramref name="length"/>) lies inside one slot (writable if <paramref name="forWrite"/>).</summary>
    public bool TryTranslate(ulong gpa, ulong length, bool forWrite, out nint host)
    {
        host = 0;
        if (length == 0 || gpa + length < gpa) return false;
        if (!_slots.TryTranslate(gpa, length, out host, out var slot)) return false;
        return !(forWrite && slot!.IsReadOnly);
    }

    /// <summary>True if [<paramref name="gpa"/>, +<paramref name="length"/>) lies inside one slot (writable if <paramref name="forWrite"/>).</summary>
    public bool Contains(ulong gpa, ulong length, bool forWrite) => TryTranslate(gpa, length, forWrite, out _);

    /// <summary>The host address of [<paramref name="gpa"/>, +<paramref name="length"/>), as <see cref="GuestPhysicalMemory.HostAddressOf"/>.</summary>
    /// <exception cref="GuestMemoryFaultException">the range is not (writable, if <paramref name="forWrite"/>) guest RAM inside one slot.</exception>
    public nint HostAddressOf(ulong gpa, ulong length, bool forWrite) =>
        TryTranslate(gpa, length, forWrite, out nint host) ? host : throw GuestPhysicalMemory.Fault(gpa, length, forWrite);
}
