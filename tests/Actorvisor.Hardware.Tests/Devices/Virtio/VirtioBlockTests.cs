using Actorvisor.Hardware.Devices.Virtio;
using Actorvisor.Hardware.Memory;

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

    [Theory]
    [InlineData(true)] // IN: the device would write the file's bytes there
    [InlineData(false)] // OUT: the device would send those bytes to the file
    public void A_data_descriptor_outside_ram_is_refused_without_io(bool read)
    {
        using var driver = new VirtioTestDriver(ioParallelism: 2);
        driver.Start(VirtioTestDriver.Version1);
        var imageBefore = File.ReadAllBytes(driver.ImagePath);
        // Header and status in RAM; the data buffer starts in RAM and runs 4 KiB past the slot into the canary.
        ulong header = Data, status = Data + 0x100, data = VirtioTestDriver.RamBytes - 0x200;
        driver.BlockRequest(0, read ? VirtioBlock.RequestIn : VirtioBlock.RequestOut, 0, Data + 0x100, 0, false); // writes the header at Data
        driver.Descriptor(0, header, 16, SplitVirtqueue.DescNext, 1);
        driver.Descriptor(1, data, 0x1200, (ushort)(SplitVirtqueue.DescNext | (read ? SplitVirtqueue.DescWrite : 0)), 2);
        driver.Descriptor(2, status, 1, SplitVirtqueue.DescWrite);
        driver.MakeAvailable(0);
        driver.Notify();
        Assert.True(driver.Status.HasFlag(VirtioDeviceStatus.DeviceNeedsReset));
        Assert.Contains("guest RAM", driver.Transport.LastFault);
        Assert.Equal(0, driver.UsedIndex);
        Assert.True(driver.CanaryIntact());
        Assert.Equal(0, driver.Block.Reads + driver.Block.Writes);
        Assert.Equal(0, driver.Block.BytesRead + driver.Block.BytesWritten);
        Assert.Equal(imageBefore, File.ReadAllBytes(driver.ImagePath));
    }

    [Fact]
    public void A_chain_whose_memory_was_removed_after_it_was_taken_maps_to_nothing()
    {
        using var driver = new VirtioTestDriver();
        // The queue's own view of memory: both slots while the chain is taken, then only a slot below the data.
        var slots = driver.Slots;
        var memory = new GuestPhysicalMemory(() => Volatile.Read(ref slots));
        var queue = new SplitVirtqueue(memory, 16) { Size = 16, DescriptorTable = VirtioTestDriver.DescAddress, DriverArea = VirtioTestDriver.AvailAddress, DeviceArea = VirtioTestDriver.UsedAddress };
        queue.Enable();
        driver.BlockRequest(0, VirtioBlock.RequestIn, 0, Data, 4096, dataWritable: true);
        driver.MakeAvailable(0);
        Assert.True(queue.TryTake(out var chain));
        Assert.Equal(VirtioBlock.HeaderSize, chain!.ReadableLength);
        Assert.Equal(0x1000 + 1, chain.WritableLength);
        var mapped = chain.MapWritable(0, 4096);
        Assert.Equal(driver.Ram.Address + (nint)Data, Assert.Single(mapped).Address);
        Volatile.Write(ref slots, MemslotSet.Of([new Memslot(0, 0, Data, driver.Ram.Address)]));
        Assert.Throws<GuestMemoryFaultException>(() => chain.MapWritable(0, 4096));
        Assert.Throws<ArgumentOutOfRangeException>(() => chain.MapWritable(0, 4096 + 2));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(4)]
    public void A_large_read_cut_into_pieces_lands_in_guest_ram_in_order(int parallelism)
    {
        const int sectors = 1536; // 768 KiB: three pieces of 256 KiB with 4 threads
        using var driver = new VirtioTestDriver(diskSectors: sectors + 64, ioParallelism: parallelism);
        var image = new byte[(sectors + 64) * VirtioBlock.SectorSize];
        new Random(parallelism).NextBytes(image);
        File.WriteAllBytes(driver.ImagePath, image); // the same file the device has open
        driver.Start(VirtioTestDriver.Version1);
        // The data in five descriptors of uneven sizes (sector multiples overall), from sector 7.
        ulong data = 0x20000;
        uint[] parts = [0x1000, 0x3_0200, 0x3_fe00, 0x2_0000, 0x2_f000];
        uint total = 0;
        foreach (var p in parts) total += p;
        Assert.Equal((uint)(sectors * VirtioBlock.SectorSize), total);
        driver.BlockRequest(0, VirtioBlock.RequestIn, 7, data, total, dataWritable: true); // header before data, status after
        ulong at = data;
        for (int i = 0; i < parts.Length; i++)
        {
            driver.Descriptor(1 + i, at, parts[i], (ushort)(SplitVirtqueue.DescNext | SplitVirtqueue.DescWrite), (ushort)(2 + i));
            at += parts[i];
        }
        driver.Descriptor(1 + parts.Length, data + total + 0x10, 1, SplitVirtqueue.DescWrite);
        driver.MakeAvailable(0);
        driver.Notify();
        Assert.Equal((0u, total + 1), driver.UsedElement(0));
        Assert.Equal(VirtioBlock.StatusOk, driver.StatusOf(data, total));
        var got = new byte[total];
        driver.Ram.Read(data, got);
        Assert.Equal(image.AsSpan(7 * VirtioBlock.SectorSize, (int)total).ToArray(), got);
        Assert.Equal(total, driver.Block.BytesRead);
        Assert.True(driver.CanaryIntact());
    }

    [Fact]
    public void Writes_before_a_flush_in_one_round_reach_the_file_before_the_fsync_and_a_read_after_it_sees_them()
    {
        using var driver = new VirtioTestDriver(diskSectors: 2048, ioParallelism: 4);
        driver.Start(VirtioTestDriver.Version1);
        // Two 256 KiB writes (sectors 0..511 and 512..1023), a flush, then a read of sectors 384..639 across both: one
        // round, the writes on several threads.
        ulong a = 0x20000, b = 0x70000, flush = 0xb8000, readBack = 0xc0000;
        driver.Ram.Span(a, 0x4_0000).Fill(0x11);
        driver.Ram.Span(b, 0x4_0000).Fill(0x22);
        driver.BlockRequest(0, VirtioBlock.RequestOut, 0, a, 0x4_0000, dataWritable: false);
        driver.BlockRequest(3, VirtioBlock.RequestOut, 512, b, 0x4_0000, dataWritable: false);
        driver.BlockRequest(6, VirtioBlock.RequestFlush, 0, flush, 0, false);
        driver.BlockRequest(8, VirtioBlock.RequestIn, 384, readBack, 0x2_0000, dataWritable: true);
        foreach (ushort head in new ushort[] { 0, 3, 6, 8 }) driver.MakeAvailable(head);
        driver.Notify();
        Assert.Equal(4, driver.UsedIndex);
        Assert.Equal(1, driver.Block.Flushes);
        Assert.Equal(2, driver.Block.Writes);
        var image = File.ReadAllBytes(driver.ImagePath);
        Assert.All(image.AsSpan(0, 0x4_0000).ToArray(), x => Assert.Equal(0x11, x));
        Assert.All(image.AsSpan(512 * 512, 0x4_0000).ToArray(), x => Assert.Equal(0x22, x));
        var got = new byte[0x2_0000];
        driver.Ram.Read(readBack, got);
        Assert.All(got.AsSpan(0, 0x1_0000).ToArray(), x => Assert.Equal(0x11, x));
        Assert.All(got.AsSpan(0x1_0000).ToArray(), x => Assert.Equal(0x22, x));
        Assert.Equal(VirtioBlock.StatusOk, driver.StatusOf(readBack, 0x2_0000));
    }

    [Fact]
    public void A_read_past_the_end_of_a_file_that_shrank_fills_zeros()
    {
        using var driver = new VirtioTestDriver(ioParallelism: 1);
        driver.Start(VirtioTestDriver.Version1);
        File.WriteAllBytes(driver.ImagePath, new byte[6 * VirtioBlock.SectorSize].Select(_ => (byte)0x77).ToArray());
        driver.Ram.Span(Data, 1024).Fill(0xee);
        driver.BlockRequest(0, VirtioBlock.RequestIn, 5, Data, 1024, dataWritable: true); // sector 5 in the file, 6 past it
        driver.MakeAvailable(0);
        driver.Notify();
        Assert.Equal(VirtioBlock.StatusOk, driver.StatusOf(Data, 1024));
        var got = new byte[1024];
        driver.Ram.Read(Data, got);
        Assert.All(got.AsSpan(0, 512).ToArray(), x => Assert.Equal(0x77, x));
        Assert.All(got.AsSpan(512).ToArray(), x => Assert.Equal(0, x));
    }

    private sealed class IgnoringSink : IQueueNotifySink
    {
        public void QueueNotified(int queue) { }
    }
}
