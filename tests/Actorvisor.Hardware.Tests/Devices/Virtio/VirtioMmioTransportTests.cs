using Actorvisor.Hardware.Devices.Virtio;

namespace Actorvisor.Hardware.Tests.Devices.Virtio;

public sealed class VirtioMmioTransportTests : IDisposable
{
    private readonly VirtioTestDriver _driver = new();

    public void Dispose() => _driver.Dispose();

    [Fact]
    public void Identifies_itself_as_a_version_2_block_device()
    {
        Assert.Equal(0x7472_6976u, _driver.Read(VirtioMmioRegister.MagicValue));
        Assert.Equal(2u, _driver.Read(VirtioMmioRegister.Version));
        Assert.Equal(2u, _driver.Read(VirtioMmioRegister.DeviceId));
        Assert.Equal(VirtioMmioRegister.ActorvisorVendor, _driver.Read(VirtioMmioRegister.VendorId));
        Assert.Equal(0u, _driver.Read(VirtioMmioRegister.ConfigGeneration));
    }

    [Fact]
    public void Offers_its_features_one_32_bit_word_at_a_time()
    {
        _driver.Write(VirtioMmioRegister.DeviceFeaturesSel, 0);
        uint low = _driver.Read(VirtioMmioRegister.DeviceFeatures);
        _driver.Write(VirtioMmioRegister.DeviceFeaturesSel, 1);
        uint high = _driver.Read(VirtioMmioRegister.DeviceFeatures);
        _driver.Write(VirtioMmioRegister.DeviceFeaturesSel, 2);
        Assert.Equal(0u, _driver.Read(VirtioMmioRegister.DeviceFeatures));
        ulong features = (ulong)high << 32 | low;
        Assert.Equal(_driver.Transport.OfferedFeatures, features);
        Assert.NotEqual(0UL, features & VirtioTestDriver.Version1);
        Assert.NotEqual(0UL, features & VirtioTestDriver.EventIdx);
        Assert.NotEqual(0UL, features & VirtioFeature.Bit(VirtioBlock.FeatureFlush));
        Assert.Equal(0UL, features & VirtioFeature.Bit(VirtioBlock.FeatureReadOnly));
        Assert.Equal(0UL, features & VirtioFeature.Bit(VirtioFeature.RingIndirectDesc));
        // SEG_MAX with seg_max at config offset 12: without it Linux sends one data buffer (an O_DIRECT page) a request.
        Assert.NotEqual(0UL, features & VirtioFeature.Bit(VirtioBlock.FeatureSegMax));
        Assert.Equal(VirtioBlock.MaxSegments, _driver.Read(VirtioMmioRegister.Config + 12));
    }

    [Fact]
    public void Refuses_features_without_version_1_or_beyond_what_was_offered()
    {
        Assert.False(_driver.Negotiate(0), "a legacy driver (no VERSION_1) must be refused");
        Assert.False(_driver.Negotiate(VirtioTestDriver.Version1 | VirtioFeature.Bit(VirtioFeature.RingIndirectDesc)), "indirect descriptors were not offered");
        Assert.True(_driver.Negotiate(VirtioTestDriver.Version1 | VirtioTestDriver.EventIdx));
        Assert.Equal(VirtioTestDriver.Version1 | VirtioTestDriver.EventIdx, _driver.Transport.NegotiatedFeatures);
    }

    [Fact]
    public void Driver_ok_without_features_ok_needs_a_reset()
    {
        _driver.Write(VirtioMmioRegister.Status, (uint)(VirtioDeviceStatus.Acknowledge | VirtioDeviceStatus.Driver | VirtioDeviceStatus.DriverOk));
        Assert.True(_driver.Status.HasFlag(VirtioDeviceStatus.DeviceNeedsReset));
        Assert.Equal(VirtioMmioTransport.InterruptConfigChange, _driver.Read(VirtioMmioRegister.InterruptStatus));
        _driver.Write(VirtioMmioRegister.Status, 0);
        Assert.Equal(VirtioDeviceStatus.None, _driver.Status);
        Assert.Equal(0u, _driver.Read(VirtioMmioRegister.InterruptStatus));
    }

    [Fact]
    public void Queue_registers_read_back_and_freeze_once_ready()
    {
        _driver.Start(VirtioTestDriver.Version1);
        Assert.Equal(1u, _driver.Read(VirtioMmioRegister.QueueReady));
        Assert.Equal((uint)VirtioBlock.QueueSize, _driver.Read(VirtioMmioRegister.QueueNumMax));
        Assert.Equal(16u, _driver.Read(VirtioMmioRegister.QueueNum));
        Assert.Equal((uint)VirtioTestDriver.AvailAddress, _driver.Read(VirtioMmioRegister.QueueDriverLow));
        _driver.Write(VirtioMmioRegister.QueueDescLow, 0x8000);
        Assert.Equal((uint)VirtioTestDriver.DescAddress, _driver.Read(VirtioMmioRegister.QueueDescLow));
        _driver.Write(VirtioMmioRegister.QueueSel, 1); // the block device has one queue
        Assert.Equal(0u, _driver.Read(VirtioMmioRegister.QueueNumMax));
    }

    [Fact]
    public void Register_accesses_narrower_than_32_bits_are_ignored()
    {
        var two = new byte[] { 0xff, 0xff };
        _driver.Transport.OnMmio(VirtioMmioRegister.MagicValue, false, two);
        Assert.Equal(new byte[] { 0, 0 }, two);
        _driver.Transport.OnMmio(VirtioMmioRegister.Status, true, new byte[] { 1 });
        Assert.Equal(VirtioDeviceStatus.None, _driver.Status);
    }

    [Fact]
    public void Configuration_space_holds_the_capacity_in_sectors()
    {
        var config = new byte[8];
        _driver.Transport.OnMmio(VirtioMmioRegister.Config, false, config);
        Assert.Equal(128UL, BitConverter.ToUInt64(config));
        var high = new byte[4];
        _driver.Transport.OnMmio(VirtioMmioRegister.Config + 4, false, high);
        Assert.Equal(0u, BitConverter.ToUInt32(high));
    }

    [Fact]
    public void Interrupt_ack_clears_only_the_acknowledged_bits()
    {
        var irq = new CountingInterrupt();
        using var driver = new VirtioTestDriver(interrupt: irq);
        driver.Start(VirtioTestDriver.Version1);
        driver.BlockRequest(0, VirtioBlock.RequestFlush, 0, VirtioTestDriver.DataAddress, 0, false);
        driver.MakeAvailable(0);
        driver.Notify();
        Assert.Equal(1, irq.Count);
        Assert.Equal(VirtioMmioTransport.InterruptUsedBuffer, driver.Read(VirtioMmioRegister.InterruptStatus));
        driver.Write(VirtioMmioRegister.InterruptAck, VirtioMmioTransport.InterruptConfigChange);
        Assert.Equal(VirtioMmioTransport.InterruptUsedBuffer, driver.Read(VirtioMmioRegister.InterruptStatus));
        driver.Write(VirtioMmioRegister.InterruptAck, VirtioMmioTransport.InterruptUsedBuffer);
        Assert.Equal(0u, driver.Read(VirtioMmioRegister.InterruptStatus));
    }

    [Fact]
    public void A_notify_sink_takes_the_notification_instead_of_the_vcpu_thread()
    {
        var sink = new RecordingSink();
        _driver.Transport.SetNotifySink(sink);
        _driver.Start(VirtioTestDriver.Version1);
        _driver.BlockRequest(0, VirtioBlock.RequestFlush, 0, VirtioTestDriver.DataAddress, 0, false);
        _driver.MakeAvailable(0);
        _driver.Notify();
        Assert.Equal([0], sink.Queues);
        Assert.Equal(0, _driver.UsedIndex); // nothing served on the notifying thread
        Assert.Equal(1, _driver.Transport.NotifyExits);
        Assert.False(_driver.Transport.ServeQueue(0));
        Assert.Equal(1, _driver.UsedIndex);
        _driver.Transport.Notify(0); // the ioeventfd path: handed on, not counted as an exit
        Assert.Equal([0, 0], sink.Queues);
        Assert.Equal(1, _driver.Transport.NotifyExits);
    }

    [Fact]
    public void The_devices_io_thread_serves_a_round_itself_and_hands_on_only_what_remains()
    {
        // 100 flushes on a 256-entry queue: the first round takes DefaultServeBudget (64) of them on the notifying
        // thread, the other 36 are the sink's.
        using var driver = new VirtioTestDriver(queueSize: 256);
        var serving = new RecordingSink { ServesOnIoThreads = true };
        driver.Transport.SetNotifySink(serving);
        driver.Start(VirtioTestDriver.Version1);
        const int requests = 100;
        for (int i = 0; i < requests; i++)
        {
            ulong header = 0x20000 + 16UL * (ulong)i;
            driver.Ram.Write(header, VirtioBlock.RequestFlush);
            driver.Descriptor(i, header, 16, SplitVirtqueue.DescNext, (ushort)(requests + i));
            driver.Descriptor(requests + i, 0x30000 + (ulong)i, 1, SplitVirtqueue.DescWrite);
            driver.MakeAvailable((ushort)i);
        }
        driver.Transport.NotifyOnIoThread(0);
        Assert.Equal(VirtioMmioTransport.DefaultServeBudget, driver.UsedIndex);
        Assert.Equal([0], serving.Queues);
        Assert.Equal(0, driver.Transport.NotifyExits);
        while (driver.Transport.ServeQueue(0)) { }
        Assert.Equal(requests, driver.UsedIndex);

        // A sink that does not let I/O threads serve gets the notification and nothing is served on the I/O thread.
        var handing = new RecordingSink();
        driver.Transport.SetNotifySink(handing);
        driver.MakeAvailable(0);
        driver.Transport.NotifyOnIoThread(0);
        Assert.Equal([0], handing.Queues);
        Assert.Equal(requests, driver.UsedIndex);
    }

    internal sealed class CountingInterrupt : IVirtioInterrupt
    {
        private int _count;
        public int Count => Volatile.Read(ref _count);
        public void Trigger() => Interlocked.Increment(ref _count);
    }

    private sealed class RecordingSink : IQueueNotifySink
    {
        public List<int> Queues { get; } = [];
        public bool ServesOnIoThreads { get; init; }
        public void QueueNotified(int queue) => Queues.Add(queue);
    }
}
