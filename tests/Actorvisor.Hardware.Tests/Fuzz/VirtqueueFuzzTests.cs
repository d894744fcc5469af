using System.Buffers.Binary;
using Actorvisor.Hardware.Devices.Virtio;
using Actorvisor.Hardware.Tests.Devices.Virtio;
using Actorvisor.Tests.Fuzz;
using Xunit.Abstractions;

namespace Actorvisor.Hardware.Tests.Fuzz;

/// <summary>
/// A virtio-blk device against random descriptor tables and available rings, for a fixed time budget: whatever the
/// driver wrote, serving the queue never throws, never writes host memory outside the guest's slot, completes no more
/// chains than were made available, and either serves the ring or marks the device DEVICE_NEEDS_RESET. Seeds are
/// Fuzz/Corpus/virtqueue; an input is: queue size exponent, flags (bit 0 EVENT_IDX, bit 1 a budget of 1), avail
/// index, used_event, avail flags (16 bits each), 16 descriptors, 16 ring entries, then bytes for the data area.
/// </summary>
public sealed class VirtqueueFuzzTests(ITestOutputHelper output) : IDisposable
{
    private const int Header = 8, TableBytes = 16 * 16, RingBytes = 16 * 2;
    private readonly VirtioTestDriver _driver = new(diskSectors: 64);

    public void Dispose() => _driver.Dispose();

    private static IReadOnlyList<byte[]> Seeds() =>
        Directory.GetFiles(Path.Combine(AppContext.BaseDirectory, "Fuzz", "Corpus", "virtqueue"))
            .Order(StringComparer.Ordinal).Select(File.ReadAllBytes).ToList();

    private static readonly byte[][] Dictionary =
    [
        [0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00], // DataAddress
        [0x00, 0xff, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00], // DataAddress - 0x100
        [0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00], // the end of guest RAM
        [0x00, 0x02, 0x00, 0x00], [0x01, 0x00], [0x03, 0x00], [0x02, 0x00], [0x04, 0x00], [0xff, 0xff],
    ];

    [Fact]
    public void Every_seed_is_served_without_a_reset()
    {
        var seeds = Seeds();
        Assert.True(seeds.Count >= 3, $"{seeds.Count} virtqueue seeds");
        foreach (var seed in seeds)
        {
            Serve(seed);
            Assert.False(_driver.Status.HasFlag(VirtioDeviceStatus.DeviceNeedsReset), _driver.Transport.LastFault);
            Assert.True(_driver.UsedIndex > 0);
        }
    }

    [Fact]
    public void Random_rings_never_reach_outside_the_guest()
    {
        long faults = 0, served = 0;
        var report = FuzzRun.Run("virtqueue", Seeds(), input =>
        {
            Serve(input);
            if (_driver.Status.HasFlag(VirtioDeviceStatus.DeviceNeedsReset)) faults++;
            else served++;
        }, _ => false, Dictionary, maxLength: 4096);
        output.WriteLine($"{report}; {served} served, {faults} marked for reset");
        Assert.True(report.Inputs >= 100 || FuzzRun.Replaying, report.ToString());
    }

    private void Serve(byte[] input)
    {
        var header = new byte[Header];
        input.AsSpan(0, Math.Min(Header, input.Length)).CopyTo(header);
        ushort size = (ushort)(1 << (1 + header[0] % 4));
        bool eventIdx = (header[1] & 1) != 0;
        int budget = (header[1] & 2) != 0 ? 1 : VirtioMmioTransport.DefaultServeBudget;
        ushort availIdx = BinaryPrimitives.ReadUInt16LittleEndian(header.AsSpan(2));

        _driver.QueueSize = size;
        // A driver zeroes its rings before handing them over; the previous input's used index must not linger.
        _driver.Ram.Span(VirtioTestDriver.DescAddress, 0x3000).Clear();
        _driver.Start(VirtioTestDriver.Version1 | (eventIdx ? VirtioTestDriver.EventIdx : 0));
        Copy(input, Header, TableBytes, VirtioTestDriver.DescAddress);
        Copy(input, Header + TableBytes, RingBytes, VirtioTestDriver.AvailAddress + 4);
        Copy(input, Header + TableBytes + RingBytes, 0x2000, VirtioTestDriver.DataAddress - 0x100);
        _driver.SetUsedEvent(BinaryPrimitives.ReadUInt16LittleEndian(header.AsSpan(4)));
        _driver.SetAvailFlags(BinaryPrimitives.ReadUInt16LittleEndian(header.AsSpan(6)));
        _driver.SetAvailIndex(availIdx);

        _driver.Transport.SetNotifySink(new Ignore());
        _driver.Notify();
        int calls = 0;
        while (_driver.Transport.ServeQueue(0, budget) && ++calls < 64) { }

        if (!_driver.CanaryIntact()) throw new InvalidOperationException("host memory outside the guest was written");
        ushort used = _driver.UsedIndex;
        bool broken = _driver.Status.HasFlag(VirtioDeviceStatus.DeviceNeedsReset);
        if (!broken && availIdx <= size && used != availIdx && calls < 64)
            throw new InvalidOperationException($"a healthy device completed {used} of {availIdx} available chains");
        if (used > Math.Min((int)availIdx, size)) throw new InvalidOperationException($"{used} chains completed, only {availIdx} were made available");
    }

    private void Copy(byte[] input, int from, int length, ulong gpa)
    {
        var bytes = new byte[length];
        if (from < input.Length) input.AsSpan(from, Math.Min(length, input.Length - from)).CopyTo(bytes);
        _driver.Ram.Write(gpa, bytes);
    }

    private sealed class Ignore : IQueueNotifySink
    {
        public void QueueNotified(int queue) { }
    }
}
