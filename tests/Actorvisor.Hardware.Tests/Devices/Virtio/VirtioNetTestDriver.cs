using System.Buffers.Binary;
using Actorvisor.Hardware.Devices.Virtio;
using Actorvisor.Hardware.Memory;
using Actorvisor.Hardware.Native;

namespace Actorvisor.Hardware.Tests.Devices.Virtio;

/// <summary>
/// Plays a virtio-net driver against a <see cref="VirtioMmioTransport"/> with a <see cref="VirtioNet"/> on a real
/// tap: 1 MiB of guest RAM with a canary half above it (as <see cref="VirtioTestDriver"/>), the receive queue and the
/// transmit queue at fixed addresses, receive buffers and transmit frames laid out by the helpers, and an interrupt
/// that releases <see cref="Wakeups"/>. The tap watch serves the receive queue on its own thread (no actor).
/// </summary>
internal sealed class VirtioNetTestDriver : IDisposable
{
    public const ushort QueueSize = 16;
    public const ulong RxBuffers = 0x10000, TxBuffers = 0x40000, BufferStride = 0x2000;
    private static readonly (ulong Desc, ulong Avail, ulong Used)[] Rings = [(0x1000, 0x2000, 0x3000), (0x4000, 0x5000, 0x6000)];

    private readonly HostMemory _host;
    private readonly ushort[] _availIdx = new ushort[2];

    public VirtioNetTestDriver(TapDevice tap, MacAddress mac)
    {
        _host = HostMemory.Allocate(2 * VirtioTestDriver.RamBytes);
        _host.Span(VirtioTestDriver.RamBytes, (int)VirtioTestDriver.RamBytes).Fill(VirtioTestDriver.Canary);
        var memory = new GuestPhysicalMemory(MemslotSet.Of([new Memslot(0, 0, VirtioTestDriver.RamBytes, _host.Address)]));
        Net = new VirtioNet(tap, mac);
        Transport = new VirtioMmioTransport(Net, memory, new Signal(Wakeups));
    }

    public VirtioNet Net { get; }
    public VirtioMmioTransport Transport { get; }
    public HostMemory Ram => _host;

    /// <summary>Released once per interrupt the device raises and once per receive round the tap watch ran.</summary>
    public SemaphoreSlim Wakeups { get; } = new(0);

    public VirtioDeviceStatus Status => Transport.Status;

    private void Write(uint register, uint value)
    {
        var b = new byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(b, value);
        Transport.OnMmio(register, true, b);
    }

    /// <summary>Negotiates VERSION_1 and MAC, sets both queues up, sets DRIVER_OK and starts the tap watch.</summary>
    public void Start()
    {
        ulong features = VirtioFeature.Bit(VirtioFeature.Version1) | VirtioFeature.Bit(VirtioNet.FeatureMac);
        const VirtioDeviceStatus up = VirtioDeviceStatus.Acknowledge | VirtioDeviceStatus.Driver;
        Write(VirtioMmioRegister.Status, (uint)up);
        Write(VirtioMmioRegister.DriverFeaturesSel, 0);
        Write(VirtioMmioRegister.DriverFeatures, (uint)features);
        Write(VirtioMmioRegister.DriverFeaturesSel, 1);
        Write(VirtioMmioRegister.DriverFeatures, (uint)(features >> 32));
        Write(VirtioMmioRegister.Status, (uint)(up | VirtioDeviceStatus.FeaturesOk));
        for (int q = 0; q < 2; q++)
        {
            Write(VirtioMmioRegister.QueueSel, (uint)q);
            Write(VirtioMmioRegister.QueueNum, QueueSize);
            Write(VirtioMmioRegister.QueueDescLow, (uint)Rings[q].Desc);
            Write(VirtioMmioRegister.QueueDriverLow, (uint)Rings[q].Avail);
            Write(VirtioMmioRegister.QueueDeviceLow, (uint)Rings[q].Used);
            Write(VirtioMmioRegister.QueueReady, 1);
        }
        Write(VirtioMmioRegister.Status, (uint)(up | VirtioDeviceStatus.FeaturesOk | VirtioDeviceStatus.DriverOk));
        Assert.Equal(VirtioDeviceStatus.DriverOk, Status & (VirtioDeviceStatus.DriverOk | VirtioDeviceStatus.DeviceNeedsReset));
        Net.StartTapWatch(() =>
        {
            Transport.Notify(VirtioNet.ReceiveQueue);
            Wakeups.Release();
        });
    }

    public void Descriptor(int queue, int index, ulong address, uint length, ushort flags, ushort next = 0)
    {
        var d = new byte[16];
        BinaryPrimitives.WriteUInt64LittleEndian(d, address);
        BinaryPrimitives.WriteUInt32LittleEndian(d.AsSpan(8), length);
        BinaryPrimitives.WriteUInt16LittleEndian(d.AsSpan(12), flags);
        BinaryPrimitives.WriteUInt16LittleEndian(d.AsSpan(14), next);
        _host.Write(Rings[queue].Desc + (ulong)index * 16, d);
    }

    public void MakeAvailable(int queue, ushort head)
    {
        _host.Write(Rings[queue].Avail + 4 + 2UL * (ulong)(_availIdx[queue] % QueueSize), head);
        _availIdx[queue]++;
        _host.Write(Rings[queue].Avail + 2, _availIdx[queue]);
    }

    /// <summary>Posts receive buffer <paramref name="index"/> (one writable descriptor of <paramref name="length"/> bytes) and kicks the queue.</summary>
    public void PostReceiveBuffer(int index, uint length = 2048)
    {
        Descriptor(VirtioNet.ReceiveQueue, index, RxBuffers + (ulong)index * BufferStride, length, SplitVirtqueue.DescWrite);
        MakeAvailable(VirtioNet.ReceiveQueue, (ushort)index);
        Notify(VirtioNet.ReceiveQueue);
    }

    /// <summary>Sends <paramref name="frame"/> behind a zero header, split over two descriptors (header, frame), and kicks the queue.</summary>
    public void Transmit(int index, ReadOnlySpan<byte> frame)
    {
        ulong at = TxBuffers + (ulong)index * BufferStride;
        _host.Span(at, VirtioNet.HeaderSize).Clear();
        _host.Write(at + VirtioNet.HeaderSize, frame);
        Descriptor(VirtioNet.TransmitQueue, index, at, VirtioNet.HeaderSize, SplitVirtqueue.DescNext, (ushort)(index + 1));
        Descriptor(VirtioNet.TransmitQueue, index + 1, at + VirtioNet.HeaderSize, (uint)frame.Length, 0);
        MakeAvailable(VirtioNet.TransmitQueue, (ushort)index);
        Notify(VirtioNet.TransmitQueue);
    }

    public void Notify(int queue) => Write(VirtioMmioRegister.QueueNotify, (uint)queue);

    public ushort UsedIndex(int queue) => _host.Read<ushort>(Rings[queue].Used + 2);

    public (uint Id, uint Length) UsedElement(int queue, int slot) =>
        (_host.Read<uint>(Rings[queue].Used + 4 + 8UL * (ulong)slot), _host.Read<uint>(Rings[queue].Used + 8 + 8UL * (ulong)slot));

    /// <summary>The frame (header stripped) the device put into used receive slot <paramref name="slot"/>, and its header.</summary>
    public (byte[] Header, byte[] Frame) Received(int slot)
    {
        var (id, length) = UsedElement(VirtioNet.ReceiveQueue, slot);
        ulong at = RxBuffers + id * BufferStride;
        var all = _host.Span(at, (int)length).ToArray();
        return (all[..VirtioNet.HeaderSize], all[VirtioNet.HeaderSize..]);
    }

    /// <summary>Waits (bounded by <paramref name="bound"/>) until <paramref name="done"/> holds, re-checking at each wake-up.</summary>
    public bool WaitUntil(Func<bool> done, TimeSpan bound)
    {
        var deadline = DateTime.UtcNow + bound;
        while (!done())
        {
            var left = deadline - DateTime.UtcNow;
            if (left <= TimeSpan.Zero || !Wakeups.Wait(left)) return done();
        }
        return true;
    }

    public bool CanaryIntact() => _host.Span(VirtioTestDriver.RamBytes, (int)VirtioTestDriver.RamBytes).IndexOfAnyExcept(VirtioTestDriver.Canary) < 0;

    public void Dispose()
    {
        Transport.Dispose();
        _host.Dispose();
    }

    private sealed class Signal(SemaphoreSlim interrupts) : IVirtioInterrupt
    {
        public void Trigger() => interrupts.Release();
    }
}
