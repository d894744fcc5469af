using System.Buffers.Binary;
using Actorvisor.Hardware.Devices.Virtio;
using Actorvisor.Hardware.Memory;
using Actorvisor.Hardware.Native;

namespace Actorvisor.Hardware.Tests.Devices.Virtio;

/// <summary>
/// Plays a virtio driver against a <see cref="VirtioMmioTransport"/> with a block device over a temporary image:
/// 1 MiB of guest RAM (memslot 0 at 0) carved from a 2 MiB host mapping whose upper half is a canary no device
/// may touch, optionally a read-only slot above it, one queue laid out at fixed addresses, and the register
/// accesses a driver makes.
/// </summary>
internal sealed class VirtioTestDriver : IDisposable
{
    public const ulong RamBytes = 1 << 20;
    public const ulong ReadOnlySlotBase = 4 << 20;
    public const ulong DescAddress = 0x1000, AvailAddress = 0x2000, UsedAddress = 0x3000;
    public const ulong DataAddress = 0x10000;
    public const byte Canary = 0xa5;

    private readonly HostMemory _host;
    private readonly HostMemory _readOnly;
    private readonly string _directory;
    private ushort _availIdx;

    public VirtioTestDriver(int diskSectors = 128, bool readOnly = false, IVirtioInterrupt? interrupt = null, ushort queueSize = 16, int ioParallelism = 0)
    {
        _host = HostMemory.Allocate(2 * RamBytes);
        _host.Span(RamBytes, (int)RamBytes).Fill(Canary);
        _readOnly = HostMemory.Allocate(0x1000);
        // Slot 0 covers only the first half of the mapping: the rest stands for host memory outside the guest.
        Slots = MemslotSet.Of([
            new Memslot(0, 0, RamBytes, _host.Address),
            new Memslot(1, ReadOnlySlotBase, 0x1000, _readOnly.Address, MemslotFlags.ReadOnly),
        ]);
        Memory = new GuestPhysicalMemory(Slots);
        _directory = Directory.CreateTempSubdirectory("virtio-test").FullName;
        var image = new byte[diskSectors * VirtioBlock.SectorSize];
        for (int s = 0; s < diskSectors; s++) image.AsSpan(s * VirtioBlock.SectorSize, VirtioBlock.SectorSize).Fill((byte)s);
        File.WriteAllBytes(Path.Combine(_directory, "disk.img"), image);
        using var dir = ConfinedDirectory.Open(_directory);
        Block = new VirtioBlock(dir.OpenFile("disk.img", writable: !readOnly), readOnly: false, name: "vda", ioParallelism: ioParallelism);
        Transport = new VirtioMmioTransport(Block, Memory, interrupt);
        QueueSize = queueSize;
    }

    public MemslotSet Slots { get; }
    public GuestPhysicalMemory Memory { get; }
    public VirtioBlock Block { get; }
    public VirtioMmioTransport Transport { get; }
    public ushort QueueSize { get; set; }
    public string ImagePath => Path.Combine(_directory, "disk.img");

    public HostMemory Ram => _host;

    public uint Read(uint register)
    {
        var b = new byte[4];
        Transport.OnMmio(register, false, b);
        return BinaryPrimitives.ReadUInt32LittleEndian(b);
    }

    public void Write(uint register, uint value)
    {
        var b = new byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(b, value);
        Transport.OnMmio(register, true, b);
    }

    public VirtioDeviceStatus Status => (VirtioDeviceStatus)Read(VirtioMmioRegister.Status);

    /// <summary>The driver's start-up sequence up to FEATURES_OK; returns whether the device kept FEATURES_OK.</summary>
    public bool Negotiate(ulong features)
    {
        Write(VirtioMmioRegister.Status, 0);
        Write(VirtioMmioRegister.Status, (uint)VirtioDeviceStatus.Acknowledge);
        Write(VirtioMmioRegister.Status, (uint)(VirtioDeviceStatus.Acknowledge | VirtioDeviceStatus.Driver));
        Write(VirtioMmioRegister.DriverFeaturesSel, 0);
        Write(VirtioMmioRegister.DriverFeatures, (uint)features);
        Write(VirtioMmioRegister.DriverFeaturesSel, 1);
        Write(VirtioMmioRegister.DriverFeatures, (uint)(features >> 32));
        Write(VirtioMmioRegister.Status, (uint)(VirtioDeviceStatus.Acknowledge | VirtioDeviceStatus.Driver | VirtioDeviceStatus.FeaturesOk));
        return (Status & VirtioDeviceStatus.FeaturesOk) != 0;
    }

    /// <summary>Negotiates <paramref name="features"/>, sets queue 0 up at the fixed addresses and sets DRIVER_OK.</summary>
    public void Start(ulong features, ulong desc = DescAddress, ulong avail = AvailAddress, ulong used = UsedAddress)
    {
        Assert.True(Negotiate(features), "features refused");
        Write(VirtioMmioRegister.QueueSel, 0);
        Write(VirtioMmioRegister.QueueNum, QueueSize);
        Write(VirtioMmioRegister.QueueDescLow, (uint)desc);
        Write(VirtioMmioRegister.QueueDescHigh, (uint)(desc >> 32));
        Write(VirtioMmioRegister.QueueDriverLow, (uint)avail);
        Write(VirtioMmioRegister.QueueDriverHigh, (uint)(avail >> 32));
        Write(VirtioMmioRegister.QueueDeviceLow, (uint)used);
        Write(VirtioMmioRegister.QueueDeviceHigh, (uint)(used >> 32));
        Write(VirtioMmioRegister.QueueReady, 1);
        Write(VirtioMmioRegister.Status, (uint)(VirtioDeviceStatus.Acknowledge | VirtioDeviceStatus.Driver | VirtioDeviceStatus.FeaturesOk | VirtioDeviceStatus.DriverOk));
        _availIdx = 0;
    }

    public static ulong Version1 => VirtioFeature.Bit(VirtioFeature.Version1);
    public static ulong EventIdx => VirtioFeature.Bit(VirtioFeature.RingEventIdx);

    public void Descriptor(int index, ulong address, uint length, ushort flags, ushort next = 0)
    {
        var d = new byte[16];
        BinaryPrimitives.WriteUInt64LittleEndian(d, address);
        BinaryPrimitives.WriteUInt32LittleEndian(d.AsSpan(8), length);
        BinaryPrimitives.WriteUInt16LittleEndian(d.AsSpan(12), flags);
        BinaryPrimitives.WriteUInt16LittleEndian(d.AsSpan(14), next);
        _host.Write(DescAddress + (ulong)index * 16, d);
    }

    /// <summary>Puts <paramref name="head"/> in the available ring and publishes the new index.</summary>
    public void MakeAvailable(ushort head)
    {
        _host.Write(AvailAddress + 4 + 2UL * (ulong)(_availIdx % QueueSize), head);
        _availIdx++;
        _host.Write(AvailAddress + 2, _availIdx);
    }

    /// <summary>Sets the avail index directly (hostile drivers).</summary>
    public void SetAvailIndex(ushort idx)
    {
        _availIdx = idx;
        _host.Write(AvailAddress + 2, idx);
    }

    public void SetAvailFlags(ushort flags) => _host.Write(AvailAddress, flags);

    public void SetUsedEvent(ushort value) => _host.Write(AvailAddress + 4 + 2UL * QueueSize, value);

    public ushort AvailEvent => _host.Read<ushort>(UsedAddress + 4 + 8UL * QueueSize);

    public ushort UsedIndex => _host.Read<ushort>(UsedAddress + 2);

    public (uint Id, uint Length) UsedElement(int slot) =>
        (_host.Read<uint>(UsedAddress + 4 + 8UL * (ulong)slot), _host.Read<uint>(UsedAddress + 8 + 8UL * (ulong)slot));

    public void Notify(int queue = 0) => Write(VirtioMmioRegister.QueueNotify, (uint)queue);

    /// <summary>Lays out a block request as three descriptors from <paramref name="first"/>: header, data, status.</summary>
    public void BlockRequest(int first, uint type, ulong sector, ulong data, uint dataLength, bool dataWritable)
    {
        ulong header = data - 0x100;
        var h = new byte[16];
        BinaryPrimitives.WriteUInt32LittleEndian(h, type);
        BinaryPrimitives.WriteUInt64LittleEndian(h.AsSpan(8), sector);
        _host.Write(header, h);
        ulong status = data + dataLength + 0x10;
        _host.Write(status, (byte)0xff);
        if (dataLength == 0)
        {
            Descriptor(first, header, 16, SplitVirtqueue.DescNext, (ushort)(first + 1));
            Descriptor(first + 1, status, 1, SplitVirtqueue.DescWrite);
            return;
        }
        Descriptor(first, header, 16, SplitVirtqueue.DescNext, (ushort)(first + 1));
        Descriptor(first + 1, data, dataLength, (ushort)(SplitVirtqueue.DescNext | (dataWritable ? SplitVirtqueue.DescWrite : 0)), (ushort)(first + 2));
        Descriptor(first + 2, status, 1, SplitVirtqueue.DescWrite);
    }

    public byte StatusOf(ulong data, uint dataLength) => _host.Read<byte>(data + dataLength + 0x10);

    /// <summary>True while no byte of the host memory outside the guest's slot has changed.</summary>
    public bool CanaryIntact()
    {
        var span = _host.Span(RamBytes, (int)RamBytes);
        return span.IndexOfAnyExcept(Canary) < 0;
    }

    public void Dispose()
    {
        Block.Dispose();
        _host.Dispose();
        _readOnly.Dispose();
        Directory.Delete(_directory, recursive: true);
    }
}
