using Actorvisor.Hardware.Devices.Virtio;

namespace Actorvisor.Hardware.Tests.Devices.Virtio;

/// <summary>
/// Every malformed ring a hostile driver can build: each marks the device DEVICE_NEEDS_RESET (with a
/// configuration-change interrupt), completes nothing, writes no host memory outside the guest's slot, and
/// stops all service until the driver resets the device.
/// </summary>
public sealed class HostileVirtqueueTests : IDisposable
{
    private const ushort Next = SplitVirtqueue.DescNext, Write = SplitVirtqueue.DescWrite;
    private const ulong Data = VirtioTestDriver.DataAddress;

    private readonly VirtioMmioTransportTests.CountingInterrupt _irq = new();
    private readonly VirtioTestDriver _driver;

    public HostileVirtqueueTests()
    {
        _driver = new VirtioTestDriver(interrupt: _irq);
        _driver.Start(VirtioTestDriver.Version1);
    }

    public void Dispose() => _driver.Dispose();

    private void AssertBroken(string reasonPart)
    {
        Assert.True(_driver.Status.HasFlag(VirtioDeviceStatus.DeviceNeedsReset), $"status {_driver.Status}");
        Assert.Contains(reasonPart, _driver.Transport.LastFault);
        Assert.Equal(VirtioMmioTransport.InterruptConfigChange, _driver.Read(VirtioMmioRegister.InterruptStatus) & VirtioMmioTransport.InterruptConfigChange);
        Assert.Equal(0, _driver.UsedIndex);
        Assert.True(_driver.CanaryIntact(), "host memory outside the guest changed");
        Assert.Equal(0, _driver.Block.Reads + _driver.Block.Writes);

        // Broken until reset: a valid request now is not served.
        _driver.BlockRequest(8, VirtioBlock.RequestIn, 0, Data + 0x1000, 512, true);
        _driver.MakeAvailable(8);
        _driver.Notify();
        Assert.Equal(0, _driver.UsedIndex);

        // A reset and a fresh start serve it again.
        _driver.Start(VirtioTestDriver.Version1);
        _driver.BlockRequest(8, VirtioBlock.RequestIn, 0, Data + 0x1000, 512, true);
        _driver.MakeAvailable(8);
        _driver.Notify();
        Assert.Equal(1, _driver.UsedIndex);
        Assert.Equal(VirtioBlock.StatusOk, _driver.StatusOf(Data + 0x1000, 512));
    }

    [Fact]
    public void A_head_outside_the_descriptor_table()
    {
        _driver.MakeAvailable(16);
        _driver.Notify();
        AssertBroken("outside the table");
    }

    [Fact]
    public void A_next_link_outside_the_descriptor_table()
    {
        _driver.Descriptor(0, Data - 0x100, 16, Next, 40);
        _driver.MakeAvailable(0);
        _driver.Notify();
        AssertBroken("links to descriptor 40");
    }

    [Fact]
    public void A_loop()
    {
        _driver.Descriptor(0, Data - 0x100, 16, Next, 1);
        _driver.Descriptor(1, Data, 16, Next, 0);
        _driver.MakeAvailable(0);
        _driver.Notify();
        AssertBroken("a loop");
    }

    [Fact]
    public void A_self_loop()
    {
        _driver.Descriptor(3, Data - 0x100, 16, Next, 3);
        _driver.MakeAvailable(3);
        _driver.Notify();
        AssertBroken("a loop");
    }

    [Fact]
    public void A_chain_longer_than_the_queue()
    {
        // Sixteen distinct descriptors then a link back to the first: seventeen links in a ring of sixteen.
        for (int i = 0; i < 16; i++) _driver.Descriptor(i, Data - 0x100, 16, Next, (ushort)((i + 1) % 16));
        _driver.MakeAvailable(0);
        _driver.Notify();
        AssertBroken("more than 16 descriptors");
    }

    [Fact]
    public void A_buffer_outside_guest_ram()
    {
        _driver.Descriptor(0, VirtioTestDriver.RamBytes - 8, 16, Write); // straddles the end of the slot, into the canary
        _driver.MakeAvailable(0);
        _driver.Notify();
        AssertBroken("not writable guest RAM");
    }

    [Fact]
    public void A_buffer_whose_address_wraps_around()
    {
        _driver.Descriptor(0, ulong.MaxValue - 7, 64, 0);
        _driver.MakeAvailable(0);
        _driver.Notify();
        AssertBroken("not guest RAM");
    }

    [Fact]
    public void A_device_writable_buffer_in_read_only_memory()
    {
        _driver.Descriptor(0, Data - 0x100, 16, Next, 1);
        _driver.Descriptor(1, VirtioTestDriver.ReadOnlySlotBase, 512, Write);
        _driver.MakeAvailable(0);
        _driver.Notify();
        AssertBroken("not writable guest RAM");
    }

    [Fact]
    public void An_indirect_descriptor_that_was_not_negotiated()
    {
        _driver.Descriptor(0, Data, 32, SplitVirtqueue.DescIndirect);
        _driver.MakeAvailable(0);
        _driver.Notify();
        AssertBroken("indirect");
    }

    [Fact]
    public void A_readable_buffer_after_a_writable_one()
    {
        _driver.Descriptor(0, Data, 16, Write | Next, 1);
        _driver.Descriptor(1, Data + 0x100, 16, 0);
        _driver.MakeAvailable(0);
        _driver.Notify();
        AssertBroken("device-readable after a device-writable");
    }

    [Fact]
    public void An_available_index_running_ahead_of_the_ring()
    {
        _driver.SetAvailIndex(17);
        _driver.Notify();
        AssertBroken("17 entries ahead");
    }

    [Fact]
    public void A_block_request_without_room_for_its_status()
    {
        _driver.Descriptor(0, Data - 0x100, 16, 0); // a header and nothing writable
        _driver.MakeAvailable(0);
        _driver.Notify();
        AssertBroken("a status byte are required");
    }

    [Theory]
    [InlineData(VirtioTestDriver.RamBytes - 0x80, VirtioTestDriver.AvailAddress, VirtioTestDriver.UsedAddress, "descriptor table")]
    [InlineData(VirtioTestDriver.DescAddress + 8, VirtioTestDriver.AvailAddress, VirtioTestDriver.UsedAddress, "16-byte aligned")]
    [InlineData(VirtioTestDriver.DescAddress, VirtioTestDriver.AvailAddress + 1, VirtioTestDriver.UsedAddress, "2-byte aligned")]
    [InlineData(VirtioTestDriver.DescAddress, VirtioTestDriver.AvailAddress, VirtioTestDriver.ReadOnlySlotBase, "used ring")]
    [InlineData(VirtioTestDriver.DescAddress, VirtioTestDriver.AvailAddress, 0x1_0000_0000UL, "used ring")]
    public void A_queue_layout_outside_guest_ram_or_misaligned(ulong desc, ulong avail, ulong used, string reasonPart)
    {
        using var driver = new VirtioTestDriver();
        Assert.True(driver.Negotiate(VirtioTestDriver.Version1));
        driver.Write(VirtioMmioRegister.QueueNum, 16);
        driver.Write(VirtioMmioRegister.QueueDescLow, (uint)desc);
        driver.Write(VirtioMmioRegister.QueueDriverLow, (uint)avail);
        driver.Write(VirtioMmioRegister.QueueDeviceLow, (uint)used);
        driver.Write(VirtioMmioRegister.QueueDeviceHigh, (uint)(used >> 32));
        driver.Write(VirtioMmioRegister.QueueReady, 1);
        Assert.Equal(0u, driver.Read(VirtioMmioRegister.QueueReady));
        Assert.True(driver.Status.HasFlag(VirtioDeviceStatus.DeviceNeedsReset));
        Assert.Contains(reasonPart, driver.Transport.LastFault);
    }

    [Fact]
    public void A_queue_size_that_is_not_a_power_of_two()
    {
        using var driver = new VirtioTestDriver(queueSize: 12);
        Assert.True(driver.Negotiate(VirtioTestDriver.Version1));
        driver.Write(VirtioMmioRegister.QueueNum, 12);
        driver.Write(VirtioMmioRegister.QueueDescLow, (uint)VirtioTestDriver.DescAddress);
        driver.Write(VirtioMmioRegister.QueueDriverLow, (uint)VirtioTestDriver.AvailAddress);
        driver.Write(VirtioMmioRegister.QueueDeviceLow, (uint)VirtioTestDriver.UsedAddress);
        driver.Write(VirtioMmioRegister.QueueReady, 1);
        Assert.Contains("not a power of 2", driver.Transport.LastFault);
    }

    [Fact]
    public void A_malformed_chain_after_good_ones_keeps_what_was_completed()
    {
        _driver.BlockRequest(0, VirtioBlock.RequestIn, 1, Data, 512, true);
        _driver.MakeAvailable(0);
        _driver.MakeAvailable(15 + 1); // out of range
        _driver.Notify();
        Assert.Equal(1, _driver.UsedIndex);
        Assert.Equal(VirtioBlock.StatusOk, _driver.StatusOf(Data, 512));
        Assert.True(_driver.Status.HasFlag(VirtioDeviceStatus.DeviceNeedsReset));
        Assert.True(_driver.CanaryIntact());
    }
}
