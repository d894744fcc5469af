using Actorvisor.Hardware.Devices.Virtio;

namespace Actorvisor.Hardware.Tests.Devices.Virtio;

public sealed class VirtioBlockTests
{
    private const ulong Data = VirtioTestDriver.DataAddress;

    [Fact]
    public void Reads_a_sector_into_the_guest()
    {
        using var driver = new VirtioTestDriver();
        driver.Start(VirtioTestDriver.Version1);
        driver.BlockRequest(0, VirtioBlock.RequestIn, 5, Data, 1024, dataWritable: true);
        driver.MakeAvailable(0);
        driver.Notify();
        Assert.Equal(1, driver.UsedIndex);
        Assert.Equal((0u, 1024u + 1), driver.UsedElement(0));
        Assert.Equal(VirtioBlock.StatusOk, driver.StatusOf(Data, 1024));
        var got = new byte[1024];
        driver.Ram.Read(Data, got);
        Assert.All(got.AsSpan(0, 512).ToArray(), b => Assert.Equal(5, b));
        Assert.All(got.AsSpan(512).ToArray(), b => Assert.Equal(6, b));
        Assert.Equal(1, driver.Block.Reads);
    }

    [Fact]
    public void Writes_a_sector_to_the_image_and_flush_reaches_fsync()
    {
        using var driver = new VirtioTestDriver();
        driver.Start(VirtioTestDriver.Version1);
        driver.Ram.Span(Data, 512).Fill(0x5a);
        driver.BlockRequest(0, VirtioBlock.RequestOut, 7, Data, 512, dataWritable: false);
        driver.BlockRequest(3, VirtioBlock.RequestFlush, 0, Data + 0x1000, 0, false);
        driver.MakeAvailable(0);
        driver.MakeAvailable(3);
        driver.Notify();
        Assert.Equal(2, driver.UsedIndex);
        Assert.Equal((0u, 1u), driver.UsedElement(0)); // only the status byte was written
        Assert.Equal((3u, 1u), driver.UsedElement(1));
        Assert.Equal(VirtioBlock.StatusOk, driver.StatusOf(Data, 512));
        Assert.Equal(1, driver.Block.Flushes);
        var image = File.ReadAllBytes(driver.ImagePath);
        Assert.All(image.AsSpan(7 * 512, 512).ToArray(), b => Assert.Equal(0x5a, b));
        Assert.All(image.AsSpan(8 * 512, 512).ToArray(), b => Assert.Equal(8, b));
    }

    [Fact]
    public void A_read_only_disk_offers_ro_and_fails_writes()
    {
        using var driver = new VirtioTestDriver(readOnly: true);
        Assert.True(driver.Block.ReadOnly);
        Assert.NotEqual(0UL, driver.Transport.OfferedFeatures & VirtioFeature.Bit(VirtioBlock.FeatureReadOnly));
        driver.Start(VirtioTestDriver.Version1);
        driver.BlockRequest(0, VirtioBlock.RequestOut, 0, Data, 512, dataWritable: false);
        driver.MakeAvailable(0);
        driver.Notify();
        Assert.Equal(VirtioBlock.StatusIoError, driver.StatusOf(Data, 512));
        Assert.Equal(0, File.ReadAllBytes(driver.ImagePath)[0]);
        Assert.Equal(1, driver.Block.Errors);
    }

    [Theory]
    [InlineData(127UL, 1024u)] // the second sector is past the end
    [InlineData(128UL, 512u)]
    [InlineData(ulong.MaxValue, 512u)]
    [InlineData(0UL, 100u)] // not whole sectors
    public void A_request_past_the_disk_or_of_partial_sectors_is_an_io_error(ulong sector, uint length)
    {
        using var driver = new VirtioTestDriver();
        driver.Start(VirtioTestDriver.Version1);
        driver.BlockRequest(0, VirtioBlock.RequestIn, sector, Data, length, dataWritable: true);
        driver.MakeAvailable(0);
        driver.Notify();
        Assert.Equal(VirtioBlock.StatusIoError, driver.StatusOf(Data, length));
        Assert.Equal((0u, 1u), driver.UsedElement(0));
        Assert.False(driver.Status.HasFlag(VirtioDeviceStatus.DeviceNeedsReset), "a bad sector is the guest's error, not a broken ring");
    }

    [Fact]
    public void An_unknown_request_type_is_unsupported_and_get_id_names_the_disk()
    {
        using var driver = new VirtioTestDriver();
        driver.Start(VirtioTestDriver.Version1);
        driver.BlockRequest(0, 99, 0, Data, 512, dataWritable: true);
        driver.BlockRequest(3, VirtioBlock.RequestGetId, 0, Data + 0x1000, VirtioBlock.IdSize, dataWritable: true);
        driver.MakeAvailable(0);
        driver.MakeAvailable(3);
        driver.Notify();
        Assert.Equal(VirtioBlock.StatusUnsupported, driver.StatusOf(Data, 512));
        Assert.Equal(VirtioBlock.StatusOk, driver.StatusOf(Data + 0x1000, VirtioBlock.IdSize));
        var id = new byte[3];
        driver.Ram.Read(Data + 0x1000, id);
        Assert.Equal("vda"u8.ToArray(), id);
    }

    [Fact]
    public void One_serve_call_completes_at_most_its_budget()
    {
        using var driver = new VirtioTestDriver();
        driver.Transport.SetNotifySink(new IgnoringSink());
        driver.Start(VirtioTestDriver.Version1);
        for (int i = 0; i < 5; i++)
        {
            driver.BlockRequest(i * 3, VirtioBlock.RequestIn, (ulong)i, Data + (ulong)i * 0x1000, 512, dataWritable: true);
            driver.MakeAvailable((ushort)(i * 3));
        }
        driver.Notify();
        Assert.True(driver.Transport.ServeQueue(0, budget: 2));
        Assert.Equal(2, driver.UsedIndex);
        Assert.True(driver.Transport.ServeQueue(0, budget: 2));
        Assert.False(driver.Transport.ServeQueue(0, budget: 2));
        Assert.Equal(5, driver.UsedIndex);
    }

    [Fact]
    public void Without_event_index_the_no_interrupt_flag_suppresses_interrupts()
    {
        var irq = new VirtioMmioTransportTests.CountingInterrupt();
        using var driver = new VirtioTestDriver(interrupt: irq);
        driver.Start(VirtioTestDriver.Version1);
        driver.SetAvailFlags(SplitVirtqueue.AvailNoInterrupt);
        driver.BlockRequest(0, VirtioBlock.RequestFlush, 0, Data, 0, false);
        driver.MakeAvailable(0);
        driver.Notify();
        Assert.Equal(1, driver.UsedIndex);
        Assert.Equal(0, irq.Count);
        driver.SetAvailFlags(0);
        driver.MakeAvailable(0);
        driver.Notify();
        Assert.Equal(1, irq.Count);
    }

    [Fact]
    public void With_event_index_the_device_interrupts_when_used_event_is_passed_and_publishes_avail_event()
    {
        var irq = new VirtioMmioTransportTests.CountingInterrupt();
        using var driver = new VirtioTestDriver(interrupt: irq);
        driver.Start(VirtioTestDriver.Version1 | VirtioTestDriver.EventIdx);
        driver.BlockRequest(0, VirtioBlock.RequestFlush, 0, Data, 0, false);
        // The driver wants an interrupt only once the used index passes 2 (used_event = 2: after the third completion).
        driver.SetUsedEvent(2);
        driver.MakeAvailable(0);
        driver.Notify();
        Assert.Equal(1, irq.Count); // the first interrupt after a reset is always sent
        Assert.Equal(1, driver.AvailEvent); // the next index the device will read
        driver.MakeAvailable(0);
        driver.Notify();
        Assert.Equal(2, driver.UsedIndex);
        Assert.Equal(1, irq.Count); // used index 2 has not passed used_event 2
        driver.MakeAvailable(0);
        driver.Notify();
        Assert.Equal(3, driver.UsedIndex);
        Assert.Equal(2, irq.Count);
        Assert.Equal(3, driver.AvailEvent);
    }

    private sealed class IgnoringSink : IQueueNotifySink
    {
        public void QueueNotified(int queue) { }
    }
}
