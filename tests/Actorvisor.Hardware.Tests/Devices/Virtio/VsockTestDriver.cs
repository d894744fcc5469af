using System.Buffers.Binary;
using Actorvisor.Hardware.Devices.Virtio;
using Actorvisor.Hardware.Devices.Virtio.Vsock;
using Actorvisor.Hardware.Memory;

namespace Actorvisor.Hardware.Tests.Devices.Virtio;

/// <summary>
/// Plays the Linux vsock driver against a <see cref="VirtioVsock"/> behind a <see cref="VirtioMmioTransport"/>: 1 MiB
/// of guest RAM (memslot 0) in a 2 MiB mapping whose upper half is a canary, the three queues at fixed addresses, TX
/// packets as a header descriptor plus a payload descriptor, RX buffers as one writable descriptor each. Nothing is
/// served behind the test's back: the device's requests for an RX round are counted and signalled, and the test serves
/// the queues itself.
/// </summary>
internal sealed class VsockTestDriver : IDisposable
{
    public const ulong RamBytes = 1 << 20;
    public const ushort QueueSize = 16;
    public const byte Canary = 0xa5;
    public const uint RxBufferBytes = VsockPacketHeader.Size + 4096;
    private const ulong RxBuffers = 0x20000, TxHeaders = 0x40000, TxPayloads = 0x50000;

    private readonly HostMemory _host;
    private readonly ushort[] _availIdx = new ushort[3];
    private readonly ushort[] _usedSeen = new ushort[3];
    private readonly SemaphoreSlim _serviceRequests = new(0);
    private int _txSlot;

    public VsockTestDriver(ulong cid = 3)
    {
        _host = HostMemory.Allocate(2 * RamBytes);
        _host.Span(RamBytes, (int)RamBytes).Fill(Canary);
        Directory = System.IO.Directory.CreateTempSubdirectory("vsock-test").FullName;
        Memory = new GuestPhysicalMemory(MemslotSet.Of([new Memslot(0, 0, RamBytes, _host.Address)]));
        Vsock = new VirtioVsock(cid, SocketPath);
        Transport = new VirtioMmioTransport(Vsock, Memory, interrupt: null);
        Vsock.SetServiceRequest(() => _serviceRequests.Release());
        Cid = cid;
    }

    public string Directory { get; }
    public string SocketPath => Path.Combine(Directory, "v.sock");
    public ulong Cid { get; }
    public GuestPhysicalMemory Memory { get; }
    public VirtioVsock Vsock { get; }
    public VirtioMmioTransport Transport { get; }
    public HostMemory Ram => _host;

    private static ulong Desc(int q) => 0x1000 + (ulong)q * 0x3000;
    private static ulong Avail(int q) => Desc(q) + 0x1000;
    private static ulong Used(int q) => Desc(q) + 0x2000;

    private void Write(uint register, uint value)
    {
        var b = new byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(b, value);
        Transport.OnMmio(register, true, b);
    }

    public uint Read(uint register)
    {
        var b = new byte[4];
        Transport.OnMmio(register, false, b);
        return BinaryPrimitives.ReadUInt32LittleEndian(b);
    }

    /// <summary>The driver's start-up: VERSION_1, the three queues, DRIVER_OK.</summary>
    public void Start()
    {
        Write(VirtioMmioRegister.Status, 0);
        Write(VirtioMmioRegister.Status, (uint)(VirtioDeviceStatus.Acknowledge | VirtioDeviceStatus.Driver));
        Write(VirtioMmioRegister.DriverFeaturesSel, 1);
        Write(VirtioMmioRegister.DriverFeatures, 1); // VERSION_1 (bit 32)
        Write(VirtioMmioRegister.Status, (uint)(VirtioDeviceStatus.Acknowledge | VirtioDeviceStatus.Driver | VirtioDeviceStatus.FeaturesOk));
        for (int q = 0; q < 3; q++)
        {
            Write(VirtioMmioRegister.QueueSel, (uint)q);
            Write(VirtioMmioRegister.QueueNum, QueueSize);
            Write(VirtioMmioRegister.QueueDescLow, (uint)Desc(q));
            Write(VirtioMmioRegister.QueueDriverLow, (uint)Avail(q));
            Write(VirtioMmioRegister.QueueDeviceLow, (uint)Used(q));
            Write(VirtioMmioRegister.QueueReady, 1);
        }
        Write(VirtioMmioRegister.Status, (uint)(VirtioDeviceStatus.Acknowledge | VirtioDeviceStatus.Driver | VirtioDeviceStatus.FeaturesOk | VirtioDeviceStatus.DriverOk));
    }

    public void Descriptor(int q, int index, ulong address, uint length, ushort flags, ushort next = 0)
    {
        var d = new byte[16];
        BinaryPrimitives.WriteUInt64LittleEndian(d, address);
        BinaryPrimitives.WriteUInt32LittleEndian(d.AsSpan(8), length);
        BinaryPrimitives.WriteUInt16LittleEndian(d.AsSpan(12), flags);
        BinaryPrimitives.WriteUInt16LittleEndian(d.AsSpan(14), next);
        _host.Write(Desc(q) + (ulong)index * 16, d);
    }

    public void MakeAvailable(int q, ushort head)
    {
        _host.Write(Avail(q) + 4 + 2UL * (ulong)(_availIdx[q] % QueueSize), head);
        _availIdx[q]++;
        _host.Write(Avail(q) + 2, _availIdx[q]);
    }

    public ushort UsedIndex(int q) => _host.Read<ushort>(Used(q) + 2);

    /// <summary>Makes RX buffers 0..count-1 available (each <paramref name="bytes"/> long), replacing any not yet used.</summary>
    public void PostRxBuffers(int count, uint bytes = RxBufferBytes)
    {
        // Never more outstanding than the ring holds (the device would rightly call that a malformed ring).
        int outstanding = (ushort)(_availIdx[VirtioVsock.RxQueue] - UsedIndex(VirtioVsock.RxQueue));
        count = Math.Min(count, QueueSize - outstanding);
        for (int i = 0; i < count; i++)
        {
            int index = (_availIdx[VirtioVsock.RxQueue] % QueueSize);
            Descriptor(VirtioVsock.RxQueue, index, RxBuffers + (ulong)index * 0x1100, bytes, SplitVirtqueue.DescWrite);
            MakeAvailable(VirtioVsock.RxQueue, (ushort)index);
        }
    }

    /// <summary>Sends one packet on TX (header descriptor, then a payload descriptor when there is one) and serves TX.</summary>
    public void Send(VsockPacketHeader header, ReadOnlySpan<byte> payload = default, uint? headerBytes = null)
    {
        int slot = _txSlot++ % (QueueSize / 2);
        ulong h = TxHeaders + (ulong)slot * 0x100, p = TxPayloads + (ulong)slot * 0x10000;
        var raw = new byte[VsockPacketHeader.Size];
        header.Write(raw);
        _host.Write(h, raw);
        _host.Write(p, payload);
        int first = slot * 2;
        if (payload.IsEmpty)
        {
            Descriptor(VirtioVsock.TxQueue, first, h, headerBytes ?? VsockPacketHeader.Size, 0);
        }
        else
        {
            Descriptor(VirtioVsock.TxQueue, first, h, headerBytes ?? VsockPacketHeader.Size, SplitVirtqueue.DescNext, (ushort)(first + 1));
            Descriptor(VirtioVsock.TxQueue, first + 1, p, (uint)payload.Length, 0);
        }
        MakeAvailable(VirtioVsock.TxQueue, (ushort)first);
        while (Transport.ServeQueue(VirtioVsock.TxQueue)) { }
    }

    /// <summary>A guest-to-host stream packet from guest port <paramref name="guestPort"/> to host port <paramref name="hostPort"/>.</summary>
    public VsockPacketHeader Packet(uint guestPort, uint hostPort, VsockOp op, uint length = 0, uint flags = 0, uint bufAlloc = 64 * 1024, uint fwdCnt = 0) =>
        new(Cid, VirtioVsock.HostCid, guestPort, hostPort, length, VsockPacketHeader.TypeStream, op, flags, bufAlloc, fwdCnt);

    /// <summary>Serves RX once and returns the packets the device put there since the last call, with their payloads.</summary>
    public List<(VsockPacketHeader Header, byte[] Payload)> ServeRx()
    {
        while (Transport.ServeQueue(VirtioVsock.RxQueue)) { }
        return TakeRx();
    }

    public List<(VsockPacketHeader Header, byte[] Payload)> TakeRx()
    {
        var packets = new List<(VsockPacketHeader, byte[])>();
        ushort used = UsedIndex(VirtioVsock.RxQueue);
        for (; _usedSeen[0] != used; _usedSeen[0]++)
        {
            ulong element = Used(VirtioVsock.RxQueue) + 4 + 8UL * (ulong)(_usedSeen[0] % QueueSize);
            uint id = _host.Read<uint>(element), length = _host.Read<uint>(element + 4);
            ulong buffer = RxBuffers + id * 0x1100UL;
            var raw = new byte[VsockPacketHeader.Size];
            _host.Read(buffer, raw);
            var header = VsockPacketHeader.Read(raw);
            Assert.Equal((uint)VsockPacketHeader.Size + header.Length, length);
            var payload = new byte[header.Length];
            _host.Read(buffer + VsockPacketHeader.Size, payload);
            packets.Add((header, payload));
        }
        return packets;
    }

    /// <summary>
    /// Waits for the device to ask for an RX round (its socket thread saw something), serves RX, and repeats until a packet
    /// came or <paramref name="patience"/> passed.
    /// </summary>
    public async Task<List<(VsockPacketHeader Header, byte[] Payload)>> AwaitRxAsync(TimeSpan patience)
    {
        var deadline = DateTime.UtcNow + patience;
        while (true)
        {
            var got = ServeRx();
            if (got.Count > 0) return got;
            var left = deadline - DateTime.UtcNow;
            if (left <= TimeSpan.Zero || !await _serviceRequests.WaitAsync(left)) return got;
        }
    }

    public bool CanaryIntact() => _host.Span(RamBytes, (int)RamBytes).IndexOfAnyExcept(Canary) < 0;

    public void Dispose()
    {
        Transport.Dispose();
        _host.Dispose();
        System.IO.Directory.Delete(Directory, recursive: true);
    }
}
