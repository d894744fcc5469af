using System.Buffers.Binary;
using Actorvisor.Hardware.Memory;
using Actorvisor.Hardware.Snapshots;

namespace Actorvisor.Hardware.Devices.Virtio;

/// <summary>
/// The device side of one split virtqueue (virtio 1.x section 2.7): the addresses and size the driver set up,
/// the next available entry to take and the next used entry to fill. Every descriptor chain taken is validated
/// against guest memory before it is handed out (see <see cref="VirtqueueFaultException"/> for what is refused);
/// a ring that breaks the contract throws, and its owner marks the device DEVICE_NEEDS_RESET. Ring indices are
/// read with acquire and published with release ordering, and a full fence separates publishing used entries (or
/// avail_event) from reading the driver's suppression fields, as section 2.7.7 requires. Not thread-safe: the
/// transport serialises configuration and servicing.
/// </summary>
public sealed class SplitVirtqueue
{
    /// <summary>The largest queue size the split layout allows.</summary>
    public const int MaxQueueSize = 32768;
    /// <summary>VIRTQ_DESC_F_NEXT.</summary>
    public const ushort DescNext = 1;
    /// <summary>VIRTQ_DESC_F_WRITE.</summary>
    public const ushort DescWrite = 2;
    /// <summary>VIRTQ_DESC_F_INDIRECT.</summary>
    public const ushort DescIndirect = 4;
    /// <summary>VIRTQ_AVAIL_F_NO_INTERRUPT.</summary>
    public const ushort AvailNoInterrupt = 1;
    /// <summary>Bytes of one descriptor.</summary>
    public const int DescriptorSize = 16;

    // Descriptors read from the table in one copy: a window of this many entries from the one a chain needs next.
    private const int DescriptorWindow = 64;

    private readonly GuestPhysicalMemory _memory;
    private readonly byte[] _descriptorWindow = new byte[DescriptorWindow * DescriptorSize];
    private VirtqueueBuffer[] _chainScratch = [];
    private ushort _lastAvail;
    private ushort _nextUsed;
    private ushort _signalledUsed;
    private bool _signalledValid;

    /// <summary>A queue in <paramref name="memory"/> that accepts sizes up to <paramref name="maxSize"/> (a power of 2).</summary>
    public SplitVirtqueue(GuestPhysicalMemory memory, ushort maxSize)
    {
        _memory = memory ?? throw new ArgumentNullException(nameof(memory));
        if (maxSize == 0 || !ushort.IsPow2(maxSize)) throw new ArgumentOutOfRangeException(nameof(maxSize), maxSize, "a split queue's size is a power of 2");
        MaxSize = maxSize;
        Reset();
    }

    /// <summary>The largest size the driver may choose.</summary>
    public ushort MaxSize { get; }

    /// <summary>The size the driver chose (QueueNum).</summary>
    public ushort Size { get; set; }

    /// <summary>Guest-physical address of the descriptor table.</summary>
    public ulong DescriptorTable { get; set; }

    /// <summary>Guest-physical address of the driver area (the available ring).</summary>
    public ulong DriverArea { get; set; }

    /// <summary>Guest-physical address of the device area (the used ring).</summary>
    public ulong DeviceArea { get; set; }

    /// <summary>True once the driver wrote QueueReady = 1 and the layout was accepted.</summary>
    public bool Ready { get; private set; }

    /// <summary>True when VIRTIO_F_RING_EVENT_IDX was negotiated: used_event and avail_event are in use.</summary>
    public bool EventIndex { get; set; }

    /// <summary>The index of the next available entry the device will take.</summary>
    public ushort LastAvailIndex => _lastAvail;

    /// <summary>The used index the device has published.</summary>
    public ushort UsedIndex => _nextUsed;

    /// <summary>Chains taken since the last reset.</summary>
    public long ChainsTaken { get; private set; }

    /// <summary>Back to the reset state: not ready, size at its maximum, addresses 0, indices 0.</summary>
    public void Reset()
    {
        Ready = false;
        Size = MaxSize;
        DescriptorTable = DriverArea = DeviceArea = 0;
        EventIndex = false;
        _lastAvail = _nextUsed = _signalledUsed = 0;
        _signalledValid = false;
        ChainsTaken = 0;
    }

    /// <summary>
    /// The driver set QueueReady: checks the size (a power of 2 up to <see cref="MaxSize"/>) and that the three
    /// areas are aligned (16, 2, 4) and lie in guest RAM (the used ring in writable RAM), then marks the queue ready.
    /// </summary>
    /// <exception cref="VirtqueueFaultException">the layout is refused; the queue stays not ready.</exception>
    public void Enable()
    {
        if (Size == 0 || Size > MaxSize || !ushort.IsPow2(Size))
            throw new VirtqueueFaultException($"queue size {Size} is not a power of 2 from 1 to {MaxSize}");
        CheckArea("descriptor table", DescriptorTable, 16, (ulong)Size * DescriptorSize, forWrite: false);
        CheckArea("available ring", DriverArea, 2, 6 + 2UL * Size, forWrite: false);
        CheckArea("used ring", DeviceArea, 4, 6 + 8UL * Size, forWrite: true);
        Ready = true;
    }

    /// <summary>
    /// Appends the queue's state to <paramref name="w"/>: the layout the driver set, whether it is ready, event index,
    /// and the device's ring positions (next available entry, next used entry, the last used index signalled).
    /// </summary>
    public void SaveState(StateBlobWriter w)
    {
        ArgumentNullException.ThrowIfNull(w);
        w.U32(Size);
        w.U64(DescriptorTable);
        w.U64(DriverArea);
        w.U64(DeviceArea);
        w.Bool(Ready);
        w.Bool(EventIndex);
        w.U32(_lastAvail);
        w.U32(_nextUsed);
        w.U32(_signalledUsed);
        w.Bool(_signalledValid);
        w.I64(ChainsTaken);
    }

    /// <summary>
    /// Loads what <see cref="SaveState"/> saved. A ready queue's layout is checked again against this machine's memory
    /// (<see cref="Enable"/>'s checks), so a state that does not fit it is refused rather than served.
    /// </summary>
    /// <exception cref="FormatException">the state is truncated, or its size or layout does not fit this queue or memory.</exception>
    public void RestoreState(ref StateBlobReader r)
    {
        uint size = r.U32();
        ulong desc = r.U64(), driver = r.U64(), device = r.U64();
        bool ready = r.Bool(), eventIndex = r.Bool();
        uint lastAvail = r.U32(), nextUsed = r.U32(), signalled = r.U32();
        bool signalledValid = r.Bool();
        long chains = r.I64();
        if (size > MaxSize || lastAvail > ushort.MaxValue || nextUsed > ushort.MaxValue || signalled > ushort.MaxValue)
            throw new FormatException($"a virtqueue of size {size} (at most {MaxSize} here) or ring positions {lastAvail}/{nextUsed}/{signalled} out of range");
        Reset();
        Size = (ushort)size;
        DescriptorTable = desc;
        DriverArea = driver;
        DeviceArea = device;
        EventIndex = eventIndex;
        if (ready)
        {
            try { Enable(); }
            catch (VirtqueueFaultException e) { throw new FormatException($"a ready virtqueue that does not fit this machine: {e.Message}", e); }
        }
        _lastAvail = (ushort)lastAvail;
        _nextUsed = (ushort)nextUsed;
        _signalledUsed = (ushort)signalled;
        _signalledValid = signalledValid;
        ChainsTaken = chains;
    }

    /// <summary>The driver withdrew the queue (QueueReady = 0 before a reset).</summary>
    public void Disable() => Ready = false;

    private void CheckArea(string what, ulong gpa, ulong alignment, ulong length, bool forWrite)
    {
        if ((gpa & (alignment - 1)) != 0) throw new VirtqueueFaultException($"the {what} at 0x{gpa:x} is not {alignment}-byte aligned");
        if (!_memory.Contains(gpa, length, forWrite))
            throw new VirtqueueFaultException($"the {what} [0x{gpa:x}, +0x{length:x}) is not {(forWrite ? "writable " : "")}guest RAM");
    }

    /// <summary>
    /// Takes the next available chain, validated. With event index, an empty queue first publishes avail_event =
    /// the next index it will take and looks again (so a buffer made available meanwhile is not missed).
    /// </summary>
    /// <returns>false when the driver has made nothing new available.</returns>
    /// <exception cref="VirtqueueFaultException">the ring or the chain is malformed.</exception>
    /// <exception cref="InvalidOperationException">the queue is not ready.</exception>
    public bool TryTake(out DescriptorChain? chain)
    {
        if (!Ready) throw new InvalidOperationException("the queue is not ready");
        chain = null;
        ushort availIdx = ReadAvailIndex();
        if (availIdx == _lastAvail)
        {
            if (!EventIndex) return false;
            PublishAvailEvent();
            availIdx = ReadAvailIndex();
            if (availIdx == _lastAvail) return false;
        }
        ushort head = ReadGuest16(DriverArea + 4 + 2UL * (ulong)(_lastAvail % Size));
        chain = Walk(head);
        _lastAvail++;
        ChainsTaken++;
        if (EventIndex) PublishAvailEvent();
        return true;
    }

    private ushort ReadAvailIndex()
    {
        ushort idx = Guarded(() => _memory.ReadUInt16Acquire(DriverArea + 2));
        // More new entries than the ring holds: the driver's index is garbage (section 2.7.13.3).
        if ((ushort)(idx - _lastAvail) > Size)
            throw new VirtqueueFaultException($"the available index {idx} is {(ushort)(idx - _lastAvail)} entries ahead of the device's {_lastAvail}, more than the {Size} the ring holds");
        return idx;
    }

    private void PublishAvailEvent()
    {
        ulong at = DeviceArea + 4 + 8UL * Size;
        Guarded(() => { _memory.WriteUInt16Release(at, _lastAvail); return 0; });
        // The store of avail_event must be visible before the avail index is read again (the driver
        // orders its index store before reading avail_event the same way).
        Interlocked.MemoryBarrier();
    }

    private DescriptorChain Walk(ushort head)
    {
        if (head >= Size) throw new VirtqueueFaultException($"the available ring names descriptor {head}, outside the table of {Size}");
        // One memslot set for the whole chain, and the table read a window of descriptors at a time (a driver lays a
        // long chain out mostly in consecutive entries): a 1 MiB read is 258 descriptors, and a copy and a translation
        // each made the walk cost more host CPU than the read itself. Each descriptor is still read once, then checked.
        var view = _memory.View();
        if (_chainScratch.Length < Size) _chainScratch = new VirtqueueBuffer[Size];
        int count = 0, firstWritable = -1, windowStart = 0, windowCount = 0;
        ulong total = 0;
        ushort index = head;
        while (true)
        {
            if (index < windowStart || index >= windowStart + windowCount)
            {
                windowStart = index;
                windowCount = Math.Min(DescriptorWindow, Size - index);
                ReadDescriptors(index, _descriptorWindow.AsSpan(0, windowCount * DescriptorSize));
            }
            var raw = _descriptorWindow.AsSpan((index - windowStart) * DescriptorSize, DescriptorSize);
            ulong address = BinaryPrimitives.ReadUInt64LittleEndian(raw);
            uint length = BinaryPrimitives.ReadUInt32LittleEndian(raw[8..]);
            ushort flags = BinaryPrimitives.ReadUInt16LittleEndian(raw[12..]);
            ushort next = BinaryPrimitives.ReadUInt16LittleEndian(raw[14..]);
            if ((flags & DescIndirect) != 0)
                throw new VirtqueueFaultException($"descriptor {index} is indirect, which was not negotiated");
            bool deviceWritable = (flags & DescWrite) != 0;
            if (!deviceWritable && firstWritable >= 0)
                throw new VirtqueueFaultException($"descriptor {index} is device-readable after a device-writable one in chain {head}");
            if (length > 0 && !view.Contains(address, length, deviceWritable))
                throw new VirtqueueFaultException($"descriptor {index} points at [0x{address:x}, +0x{length:x}), which is not {(deviceWritable ? "writable " : "")}guest RAM");
            total += length;
            if (total > uint.MaxValue)
                throw new VirtqueueFaultException($"chain {head} is longer than 4 GiB, more than a used-ring length can describe");
            if (deviceWritable && firstWritable < 0) firstWritable = count;
            _chainScratch[count++] = new VirtqueueBuffer(address, length, deviceWritable);
            if ((flags & DescNext) == 0) break;
            if (next >= Size) throw new VirtqueueFaultException($"descriptor {index} links to descriptor {next}, outside the table of {Size}");
            // A chain can use each descriptor once: more links than the table has entries is a loop.
            if (count >= Size) throw new VirtqueueFaultException($"chain {head} has more than {Size} descriptors: a loop");
            index = next;
        }
        int writableFrom = firstWritable < 0 ? count : firstWritable;
        return new DescriptorChain(_memory, head, _chainScratch[..writableFrom], _chainScratch[writableFrom..count]);
    }

    private void ReadDescriptors(ushort first, Span<byte> raw)
    {
        try { _memory.Read(DescriptorTable + (ulong)first * DescriptorSize, raw); }
        catch (GuestMemoryFaultException e) { throw new VirtqueueFaultException($"descriptor {first}: {e.Message}"); }
    }

    /// <summary>
    /// Returns chain <paramref name="head"/> to the driver with <paramref name="written"/> bytes written into its
    /// writable buffers: the used element is stored, then (release) the used index.
    /// </summary>
    /// <exception cref="VirtqueueFaultException">the used ring is no longer guest RAM.</exception>
    public void Complete(ushort head, uint written)
    {
        if (!Ready) throw new InvalidOperationException("the queue is not ready");
        ulong element = DeviceArea + 4 + 8UL * (ulong)(_nextUsed % Size);
        Guarded(() =>
        {
            _memory.WriteUInt32(element, head);
            _memory.WriteUInt32(element + 4, written);
            return 0;
        });
        _nextUsed++;
        // Release: the element (and the data the device wrote into the chain's buffers) before the index.
        Guarded(() => { _memory.WriteUInt16Release(DeviceArea + 2, _nextUsed); return 0; });
    }

    /// <summary>
    /// Whether the driver wants an interrupt for the used entries published since the last one that was sent: with
    /// event index, when used_event lies in the newly used range (vring_need_event); without, unless the driver set
    /// VIRTQ_AVAIL_F_NO_INTERRUPT. Call after a batch of <see cref="Complete"/>; a true answer counts as sent.
    /// </summary>
    /// <exception cref="VirtqueueFaultException">the available ring is no longer guest RAM.</exception>
    public bool NeedsInterrupt()
    {
        // The used index store must be visible before the driver's suppression field is read (section 2.7.7.2).
        Interlocked.MemoryBarrier();
        ushort newUsed = _nextUsed;
        ushort old = _signalledUsed;
        bool valid = _signalledValid;
        _signalledUsed = newUsed;
        _signalledValid = true;
        if (!EventIndex)
        {
            ushort flags = Guarded(() => _memory.ReadUInt16(DriverArea));
            return (flags & AvailNoInterrupt) == 0 && newUsed != old;
        }
        if (newUsed == old && valid) return false;
        ushort usedEvent = Guarded(() => _memory.ReadUInt16(DriverArea + 4 + 2UL * Size));
        // The first interrupt after a reset is always sent: nothing has been signalled yet to compare with.
        return !valid || (ushort)(newUsed - usedEvent - 1) < (ushort)(newUsed - old);
    }

    private ushort ReadGuest16(ulong gpa) => Guarded(() => _memory.ReadUInt16(gpa));

    private static T Guarded<T>(Func<T> access)
    {
        try { return access(); }
        catch (GuestMemoryFaultException e) { throw new VirtqueueFaultException(e.Message); }
    }

    /// <inheritdoc />
    public override string ToString() =>
        $"virtqueue size {Size}{(Ready ? " ready" : "")} desc 0x{DescriptorTable:x} avail 0x{DriverArea:x} used 0x{DeviceArea:x} next-avail {_lastAvail} used {_nextUsed}";
}
