using Actorvisor.Hardware.Accel;

namespace Actorvisor.Hardware.Devices;

/// <summary>
/// Routes a vCPU's port I/O and MMIO exits to devices: the exit handler every vCPU of a machine runs with.
/// </summary>
/// <remarks>
/// The port path is the hot path (one call per guest IN/OUT), so it is a few array loads: a two-level table
/// (<see cref="PortIndexTable"/>) maps each port to the 1-based index of its registration, and the registrations live in an array that
/// is replaced, never mutated, on change. No allocation, no lock, no dictionary per exit. MMIO ranges are
/// an immutable array sorted by address, searched by bisection. Registration takes a lock and publishes new
/// arrays with volatile writes, so it is safe while vCPUs run. Accesses nobody claims behave like an
/// empty ISA bus / unassigned PCI space: reads return all-ones, writes are dropped, and both are counted.
/// </remarks>
public sealed class DeviceBus : IExitHandler
{
    private const int PortSpace = 0x10000;

    private readonly object _gate = new();
    // 0 = no device; otherwise 1 + index into _portSlots.
    private readonly PortIndexTable _portIndex = new();
    // Append-only: an index, once handed out, names the same range forever, so readers need no lock.
    private PortRange[] _portSlots = [];
    private PortRange[] _activePortRanges = [];
    private MmioRange[] _mmioRanges = [];

    private long _unknownPortReads;
    private long _unknownPortWrites;
    private long _unknownMmioReads;
    private long _unknownMmioWrites;

    /// <summary>IN accesses to ports no device owns (answered with all-ones).</summary>
    public long UnknownPortReads => Interlocked.Read(ref _unknownPortReads);

    /// <summary>OUT accesses to ports no device owns (ignored).</summary>
    public long UnknownPortWrites => Interlocked.Read(ref _unknownPortWrites);

    /// <summary>MMIO reads no device claims (answered with all-ones).</summary>
    public long UnknownMmioReads => Interlocked.Read(ref _unknownMmioReads);

    /// <summary>MMIO writes no device claims (ignored).</summary>
    public long UnknownMmioWrites => Interlocked.Read(ref _unknownMmioWrites);

    /// <summary>The registered port ranges, in registration order.</summary>
    public IReadOnlyList<PortRange> PortRanges => Volatile.Read(ref _activePortRanges);

    /// <summary>The registered MMIO ranges, sorted by address.</summary>
    public IReadOnlyList<MmioRange> MmioRanges => Volatile.Read(ref _mmioRanges);

    /// <summary>Gives <paramref name="device"/> the ports [<paramref name="basePort"/>, <paramref name="basePort"/> + <paramref name="count"/>).</summary>
    /// <exception cref="ArgumentOutOfRangeException">count is not positive or the range runs past port 0xffff.</exception>
    /// <exception cref="DeviceRangeConflictException">a port is already owned by another registration.</exception>
    public PortRange RegisterPorts(ushort basePort, int count, IPortIoDevice device)
    {
        ArgumentNullException.ThrowIfNull(device);
        if (count <= 0) throw new ArgumentOutOfRangeException(nameof(count), count, $"device '{device.Name}': port count must be at least 1");
        if (basePort + count > PortSpace)
            throw new ArgumentOutOfRangeException(nameof(count), count, $"device '{device.Name}': ports 0x{basePort:x}+{count} run past port 0xffff");
        var range = new PortRange(basePort, count, device);
        lock (_gate)
        {
            foreach (var r in _activePortRanges)
            {
                if (r.Overlaps(basePort, range.End))
                    throw new DeviceRangeConflictException($"cannot register {range}: it overlaps {r}");
            }
            var slots = _portSlots;
            if (slots.Length >= ushort.MaxValue) throw new InvalidOperationException("too many port ranges registered on this bus");
            // Publish the registration before the table entries that point at it.
            Volatile.Write(ref _portSlots, [.. slots, range]);
            Volatile.Write(ref _activePortRanges, [.. _activePortRanges, range]);
            ushort index = (ushort)(slots.Length + 1);
            for (int p = basePort; p < range.End; p++) _portIndex.Write(p, index);
        }
        return range;
    }

    /// <summary>Gives <paramref name="device"/> the guest-physical range [<paramref name="baseAddress"/>, <paramref name="baseAddress"/> + <paramref name="size"/>).</summary>
    /// <exception cref="ArgumentOutOfRangeException">size is zero or the range wraps past 2^64.</exception>
    /// <exception cref="DeviceRangeConflictException">the range overlaps another MMIO registration.</exception>
    public MmioRange RegisterMmio(ulong baseAddress, ulong size, IMmioDevice device)
    {
        ArgumentNullException.ThrowIfNull(device);
        if (size == 0) throw new ArgumentOutOfRangeException(nameof(size), size, $"device '{device.Name}': MMIO size must be at least 1 byte");
        if (baseAddress + size < baseAddress)
            throw new ArgumentOutOfRangeException(nameof(size), size, $"device '{device.Name}': MMIO range 0x{baseAddress:x}+0x{size:x} wraps around");
        var range = new MmioRange(baseAddress, size, device);
        lock (_gate)
        {
            var ranges = _mmioRanges;
            foreach (var r in ranges)
            {
                if (r.Overlaps(baseAddress, range.End))
                    throw new DeviceRangeConflictException($"cannot register {range}: it overlaps {r}");
            }
            int at = 0;
            while (at < ranges.Length && ranges[at].Base < baseAddress) at++;
            Volatile.Write(ref _mmioRanges, [.. ranges[..at], range, .. ranges[at..]]);
        }
        return range;
    }

    /// <summary>Removes every port and MMIO range of <paramref name="device"/>; returns how many ranges were removed.</summary>
    public int Unregister(object device)
    {
        ArgumentNullException.ThrowIfNull(device);
        lock (_gate)
        {
            int removed = 0;
            var active = _activePortRanges;
            foreach (var r in active)
            {
                if (!ReferenceEquals(r.Device, device)) continue;
                // The slot in _portSlots stays (append-only), so a vCPU that read the old index still finds
                // a valid range; it simply is no longer reachable from the table.
                for (int p = r.Base; p < r.End; p++) _portIndex.Write(p, 0);
                removed++;
            }
            if (removed > 0) Volatile.Write(ref _activePortRanges, Array.FindAll(active, r => !ReferenceEquals(r.Device, device)));
            var mmio = _mmioRanges;
            var keptMmio = Array.FindAll(mmio, r => !ReferenceEquals(r.Device, device));
            removed += mmio.Length - keptMmio.Length;
            if (mmio.Length != keptMmio.Length) Volatile.Write(ref _mmioRanges, keptMmio);
            return removed;
        }
    }

    /// <inheritdoc />
    public ExitAction OnPortIo(ushort port, IoDirection direction, Span<byte> data)
    {
        int index = _portIndex.Read(port);
        if (index != 0)
        {
            var range = Volatile.Read(ref _portSlots)[index - 1];
            return range.Device.OnPortIo((ushort)(port - range.Base), direction, data);
        }
        if (direction == IoDirection.In)
        {
            data.Fill(0xff);
            Interlocked.Increment(ref _unknownPortReads);
        }
        else
        {
            Interlocked.Increment(ref _unknownPortWrites);
        }
        return ExitAction.Continue;
    }

    /// <inheritdoc />
    public ExitAction OnMmio(ulong gpa, bool isWrite, Span<byte> data)
    {
        var ranges = Volatile.Read(ref _mmioRanges);
        int lo = 0, hi = ranges.Length - 1;
        while (lo <= hi)
        {
            int mid = (lo + hi) >>> 1;
            var r = ranges[mid];
            if (gpa < r.Base) hi = mid - 1;
            else if (gpa >= r.End) lo = mid + 1;
            else return r.Device.OnMmio(gpa - r.Base, isWrite, data);
        }
        if (isWrite)
        {
            Interlocked.Increment(ref _unknownMmioWrites);
        }
        else
        {
            data.Fill(0xff);
            Interlocked.Increment(ref _unknownMmioReads);
        }
        return ExitAction.Continue;
    }
}
