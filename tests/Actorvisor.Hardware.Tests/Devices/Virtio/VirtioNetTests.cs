using System.Buffers.Binary;
using Actorvisor.Hardware.Devices.Virtio;
using Actorvisor.Hardware.Native;

namespace Actorvisor.Hardware.Tests.Devices.Virtio;

/// <summary>
/// virtio-net on a real tap: the guest side is <see cref="VirtioNetTestDriver"/>'s rings, the host side a network
/// namespace the test creates (nothing leaves the machine). A guest ARP request goes out through the transmit queue
/// and the namespace's kernel answers into a receive buffer; hostile rings mark the device broken without touching
/// memory outside the guest.
/// </summary>
public sealed class VirtioNetTests
{
    private static readonly MacAddress GuestMac = MacAddress.Parse("02:00:5e:10:20:30");
    private static readonly byte[] HostIp = [10, 231, 0, 1], GuestIp = [10, 231, 0, 2];
    // An ARP exchange through a tap takes well under a millisecond; ten seconds only bounds a broken run.
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(10);

    private static string NewTapName() => $"avt{Guid.NewGuid():N}"[..13];

    private static byte[] ArpRequest()
    {
        var f = new byte[42];
        f.AsSpan(0, 6).Fill(0xff);
        GuestMac.Bytes().CopyTo(f, 6);
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(12), 0x0806);
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(14), 1); // Ethernet
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(16), 0x0800); // IPv4
        f[18] = 6;
        f[19] = 4;
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(20), 1); // request
        GuestMac.Bytes().CopyTo(f, 22);
        GuestIp.CopyTo(f, 28);
        HostIp.CopyTo(f, 38);
        return f;
    }

    private static bool IsArpReplyToGuest(byte[] frame) =>
        frame.Length >= 42 && frame.AsSpan(0, 6).SequenceEqual(GuestMac.Bytes()) && BinaryPrimitives.ReadUInt16BigEndian(frame.AsSpan(12)) == 0x0806
        && BinaryPrimitives.ReadUInt16BigEndian(frame.AsSpan(20)) == 2 && frame.AsSpan(28, 4).SequenceEqual(HostIp) && frame.AsSpan(38, 4).SequenceEqual(GuestIp);

    // A tap made here, in a fresh namespace with the host address, and a started driver on it.
    private static (NetworkNamespace Ns, VirtioNetTestDriver Driver) Link()
    {
        var name = NewTapName();
        var tap = TapDevice.Open(name);
        var driver = new VirtioNetTestDriver(tap, GuestMac);
        NetworkNamespace? ns = null;
        try
        {
            ns = NetworkNamespace.Create();
            ns.Adopt(name, "10.231.0.1/24");
            driver.Start();
            return (ns, driver);
        }
        catch
        {
            driver.Dispose();
            ns?.Dispose();
            throw;
        }
    }

    [NetNamespaceFact]
    public void A_guest_arp_request_reaches_the_namespace_and_its_reply_lands_in_a_receive_buffer()
    {
        var (ns, driver) = Link();
        using var _ = ns;
        using var __ = driver;
        for (int i = 0; i < 4; i++) driver.PostReceiveBuffer(i);
        driver.Transmit(0, ArpRequest());
        Assert.Equal(1, driver.UsedIndex(VirtioNet.TransmitQueue));
        Assert.Equal((0u, 0u), driver.UsedElement(VirtioNet.TransmitQueue, 0));
        Assert.Equal(1, driver.Net.FramesTransmitted);

        Assert.True(driver.WaitUntil(() => driver.UsedIndex(VirtioNet.ReceiveQueue) >= 1, Bound), "no frame came back from the namespace");
        var (header, frame) = driver.Received(0);
        Assert.True(IsArpReplyToGuest(frame), $"not the ARP reply: {Convert.ToHexString(frame)}");
        var expectedHeader = new byte[VirtioNet.HeaderSize];
        expectedHeader[10] = 1; // num_buffers
        Assert.Equal(expectedHeader, header);
        Assert.Equal((uint)(VirtioNet.HeaderSize + frame.Length), driver.UsedElement(VirtioNet.ReceiveQueue, 0).Length);
        // The reply came from the tap's own address, which the namespace's kernel learnt the guest's from.
        Assert.Contains(GuestMac.ToString(), ns.Exec(NetworkNamespace.IpTool!, "neigh", "show", "10.231.0.2"), StringComparison.OrdinalIgnoreCase);
        Assert.Equal(0, driver.Transport.Faults);
        Assert.True(driver.CanaryIntact());
    }

    [NetNamespaceFact]
    public void A_frame_larger_than_the_receive_buffer_is_dropped_and_the_buffer_returned_empty()
    {
        var (ns, driver) = Link();
        using var _ = ns;
        using var __ = driver;
        driver.PostReceiveBuffer(0, length: VirtioNet.HeaderSize + 20); // the 42-byte ARP reply does not fit
        driver.Transmit(0, ArpRequest());
        Assert.True(driver.WaitUntil(() => driver.Net.ReceiveDrops >= 1, Bound), "the reply was not dropped");
        Assert.Equal(1, driver.UsedIndex(VirtioNet.ReceiveQueue));
        Assert.Equal((0u, 0u), driver.UsedElement(VirtioNet.ReceiveQueue, 0));
        Assert.False(driver.Status.HasFlag(VirtioDeviceStatus.DeviceNeedsReset), "a large frame is not a broken ring");

        // The device goes on: a second request's reply fills an ordinary buffer (the kernel answers every request).
        driver.PostReceiveBuffer(1);
        driver.Transmit(2, ArpRequest());
        Assert.True(driver.WaitUntil(() => driver.UsedIndex(VirtioNet.ReceiveQueue) >= 2, Bound), "no frame after the drop");
        Assert.True(IsArpReplyToGuest(driver.Received(1).Frame));
    }

    [NetNamespaceFact]
    public void A_receive_chain_with_a_readable_buffer_or_no_room_for_the_header_breaks_the_device_when_a_frame_comes()
    {
        foreach (var (length, flags) in new[] { (2048u, (ushort)0), (8u, SplitVirtqueue.DescWrite) })
        {
            var (ns, driver) = Link();
            using var _ = ns;
            using var __ = driver;
            driver.Descriptor(VirtioNet.ReceiveQueue, 0, VirtioNetTestDriver.RxBuffers, length, flags);
            driver.MakeAvailable(VirtioNet.ReceiveQueue, 0);
            driver.Transmit(0, ArpRequest());
            Assert.True(driver.WaitUntil(() => driver.Transport.Faults >= 1, Bound), $"chain ({length}, flags {flags}) did not break the device");
            Assert.True(driver.Status.HasFlag(VirtioDeviceStatus.DeviceNeedsReset));
            Assert.Contains("receive chain 0", driver.Transport.LastFault);
            Assert.Equal(0, driver.UsedIndex(VirtioNet.ReceiveQueue));
            Assert.True(driver.CanaryIntact());
        }
    }

    [NetNamespaceFact]
    public void A_transmit_chain_shorter_than_the_header_breaks_the_device_and_a_runt_frame_is_only_dropped()
    {
        var (ns, driver) = Link();
        using var _ = ns;
        using var __ = driver;
        driver.Transmit(0, new byte[6]); // a header and a 6-byte frame: dropped, the ring is fine
        Assert.Equal(1, driver.UsedIndex(VirtioNet.TransmitQueue));
        Assert.Equal(1, driver.Net.TransmitDrops);
        Assert.Equal(0, driver.Transport.Faults);

        driver.Descriptor(VirtioNet.TransmitQueue, 4, VirtioNetTestDriver.TxBuffers, VirtioNet.HeaderSize - 2, 0);
        driver.MakeAvailable(VirtioNet.TransmitQueue, 4);
        driver.Notify(VirtioNet.TransmitQueue);
        Assert.True(driver.Status.HasFlag(VirtioDeviceStatus.DeviceNeedsReset));
        Assert.Contains("transmit chain 4", driver.Transport.LastFault);
        Assert.Equal(1, driver.UsedIndex(VirtioNet.TransmitQueue));
        Assert.Equal(0, driver.Net.FramesTransmitted);
        Assert.True(driver.CanaryIntact());
    }

    [NetNamespaceFact]
    public void The_configuration_space_holds_the_mac_and_the_card_offers_it()
    {
        using var tap = TapDevice.Open(NewTapName());
        var net = new VirtioNet(tap, GuestMac);
        Assert.Equal(1u, net.DeviceType);
        Assert.NotEqual(0UL, net.DeviceFeatures & VirtioFeature.Bit(VirtioNet.FeatureMac));
        var config = new byte[8];
        net.ReadConfig(0, config);
        Assert.Equal([.. GuestMac.Bytes(), 0, 0], config);
        var tail = new byte[3];
        net.ReadConfig(4, tail);
        Assert.Equal([GuestMac.Bytes()[4], GuestMac.Bytes()[5], 0], tail);
    }

    [NetNamespaceFact]
    public void A_guest_of_our_own_on_the_software_accelerator_gets_the_arp_reply_of_the_namespace()
    {
        var tap = NewTapName();
        using var ns = NetworkNamespace.Create();
        using var accelerator = new Actorvisor.Hardware.Soft.SoftAccelerator();
        var console = new Actorvisor.Hardware.Devices.CapturingConsoleSink();
        using var machine = Actorvisor.Hardware.Machines.Machine.Create(accelerator, new Actorvisor.Hardware.Machines.MachineSpec
        {
            Image = Actorvisor.Hardware.Guests.VirtioGuests.NetArpDriver(),
            Nets = [new Actorvisor.Hardware.Machines.VirtioNetSpec { Tap = tap, Mac = GuestMac }],
        }, console);
        // The guest repeats its request until a reply comes: those sent before the tap is up are dropped.
        ns.Adopt(tap, "10.234.0.1/24");
        // The guest needs well under a second (a few ARP rounds); a minute only bounds a hang on a loaded machine.
        var result = machine.Run(TimeSpan.FromMinutes(1));
        Assert.True(result.Succeeded, $"{result}: {result.ConsoleOutput}");
        Assert.Equal($"virtio-net arp reply from {BinaryPrimitives.ReadUInt32LittleEndian(Actorvisor.Hardware.Guests.VirtioGuests.ArpTarget):x8}\n", result.ConsoleOutput);
        var card = (VirtioNet)machine.Parts.Virtio.Transports.Single().Device;
        Assert.True(card.FramesTransmitted >= 1, $"{card.FramesTransmitted} frames reached the tap");
        Assert.Equal(1, card.FramesReceived);
        Assert.Equal(0, machine.Parts.Virtio.Transports.Single().Faults);
    }

    [Fact]
    public void Tap_names_are_checked()
    {
        Assert.Null(TapInterfaceName.Check("tap0"));
        Assert.Null(TapInterfaceName.Check("a.b-c_d123456789"[..15]));
        Assert.NotNull(TapInterfaceName.Check(""));
        Assert.NotNull(TapInterfaceName.Check("abcdefghijklmnop")); // 16 characters
        Assert.NotNull(TapInterfaceName.Check(".."));
        Assert.NotNull(TapInterfaceName.Check("tap/0"));
        Assert.NotNull(TapInterfaceName.Check("tap 0"));
        Assert.NotNull(TapInterfaceName.Check("tap:0"));
        Assert.Throws<ArgumentException>(() => TapDevice.Open("bad/name"));
    }

    [Fact]
    public void Mac_addresses_parse_print_and_refuse_multicast()
    {
        Assert.Equal("52:54:00:ab:cd:ef", MacAddress.Parse("52:54:00:AB:CD:EF").ToString());
        Assert.Equal(MacAddress.Parse("52-54-00-ab-cd-ef"), MacAddress.Parse("52:54:00:ab:cd:ef"));
        Assert.Throws<FormatException>(() => MacAddress.Parse("01:00:5e:00:00:01"));
        Assert.Throws<FormatException>(() => MacAddress.Parse("52:54:00:ab:cd"));
        Assert.Throws<FormatException>(() => MacAddress.Parse("52:54:00:ab:cd:zz"));
        var derived = MacAddress.LocallyAdministered("tap0");
        Assert.Equal(derived, MacAddress.LocallyAdministered("tap0"));
        Assert.NotEqual(derived, MacAddress.LocallyAdministered("tap1"));
        Assert.Equal(0x02, derived.Bytes()[0]);
    }
}
