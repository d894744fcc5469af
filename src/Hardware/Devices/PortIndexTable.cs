namespace Actorvisor.Hardware.Devices;

/// <summary>
/// The port -> registration map of a <see cref="DeviceBus"/>: 0 for a port nobody owns, otherwise the 1-based
/// index of its registration. Two levels of 256 ports each, a page allocated only where a device registers, so
/// a bus costs a couple of KiB instead of a flat 128 KiB table: that flat table was a large-object-heap
/// allocation per machine, and every ~25 machines created one full blocking gen2 garbage collection
/// (measured with `bench lifecycle`). Lookups are two dependent loads, lock-free; writes come from the bus
/// under its lock and are published with volatile writes (a page before the entries that point into it).
/// </summary>
internal sealed class PortIndexTable
{
    private const int PageShift = 8;
    private const int PageSize = 1 << PageShift;
    private const int PageMask = PageSize - 1;

    private readonly ushort[]?[] _pages = new ushort[]?[0x10000 >> PageShift];

    /// <summary>The registration index of <paramref name="port"/>, 0 if none (any thread).</summary>
    public int Read(ushort port)
    {
        var page = Volatile.Read(ref _pages[port >> PageShift]);
        return page is null ? 0 : Volatile.Read(ref page[port & PageMask]);
    }

    /// <summary>Sets the index of <paramref name="port"/> (under the bus's lock).</summary>
    public void Write(int port, ushort index)
    {
        var page = _pages[port >> PageShift];
        if (page is null)
        {
            if (index == 0) return;
            page = new ushort[PageSize];
            Volatile.Write(ref _pages[port >> PageShift], page);
        }
        Volatile.Write(ref page[port & PageMask], index);
    }
}
