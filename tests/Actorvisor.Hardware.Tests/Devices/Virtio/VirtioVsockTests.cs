using System.Net.Sockets;
using System.Text;
using Actorvisor.Hardware.Devices.Virtio;
using Actorvisor.Hardware.Devices.Virtio.Vsock;

namespace Actorvisor.Hardware.Tests.Devices.Virtio;

/// <summary>
/// The virtio-vsock device against a driver played by the test and real Unix sockets: both directions of connection,
/// data and credit, shutdown and reset, and hostile packets and rings (no socket opened for them, no byte outside the
/// guest touched).
/// </summary>
public sealed class VirtioVsockTests
{
    // The device's socket thread notices a ready socket within its 100 ms poll interval; a loaded machine gets far more.
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);
    private const uint GuestPort = 1234;

    private static Socket ConnectHost(string path)
    {
        var s = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        s.Connect(new UnixDomainSocketEndPoint(path));
        s.ReceiveTimeout = (int)Patience.TotalMilliseconds;
        return s;
    }

    private static string ReadLine(Socket s)
    {
        var line = new StringBuilder();
        var b = new byte[1];
        while (s.Receive(b) == 1 && b[0] != '\n') line.Append((char)b[0]);
        return line.ToString();
    }

    private static byte[] ReadExactly(Socket s, int count)
    {
        var buffer = new byte[count];
        for (int done = 0; done < count;)
        {
            int n = s.Receive(buffer, done, count - done, SocketFlags.None);
            if (n == 0) throw new EndOfStreamException($"EOF after {done} of {count} bytes");
            done += n;
        }
        return buffer;
    }

    // A host process connects through CONNECT; the guest accepts. Returns the host socket and the host port.
    private static async Task<(Socket Host, uint HostPort)> OpenFromHost(VsockTestDriver d, uint bufAlloc = 64 * 1024)
    {
        var host = ConnectHost(d.SocketPath);
        host.Send(Encoding.ASCII.GetBytes($"CONNECT {GuestPort}\n"));
        var request = Assert.Single(await d.AwaitRxAsync(Patience));
        Assert.Equal(VsockOp.Request, request.Header.Op);
        Assert.Equal((VirtioVsock.HostCid, d.Cid, GuestPort), (request.Header.SourceCid, request.Header.DestinationCid, request.Header.DestinationPort));
        Assert.True(request.Header.SourcePort >= VirtioVsock.FirstHostPort, $"host port {request.Header.SourcePort}");
        Assert.Equal(VirtioVsock.BufferAllocation, request.Header.BufferAllocation);
        d.Send(d.Packet(GuestPort, request.Header.SourcePort, VsockOp.Response, bufAlloc: bufAlloc));
        Assert.Equal($"OK {request.Header.SourcePort}", ReadLine(host));
        return (host, request.Header.SourcePort);
    }

    [Fact]
    public void Offers_device_19_with_three_queues_and_the_guest_cid_in_its_configuration()
    {
        using var d = new VsockTestDriver(cid: 0x1_2345);
        Assert.Equal(19u, d.Read(VirtioMmioRegister.DeviceId));
        Assert.Equal(3, d.Transport.QueueCount);
        var config = new byte[8];
        d.Transport.OnMmio(VirtioMmioRegister.Config, false, config);
        Assert.Equal(0x1_2345ul, BitConverter.ToUInt64(config));
        Assert.Throws<ArgumentOutOfRangeException>(() => new VirtioVsock(2, Path.Combine(d.Directory, "x.sock")));
    }

    [Fact]
    public async Task A_host_process_connects_to_a_guest_port_and_both_sides_talk_until_the_host_closes()
    {
        using var d = new VsockTestDriver();
        d.Start();
        d.PostRxBuffers(8);
        var (host, hostPort) = await OpenFromHost(d);
        using (host)
        {
            d.Send(d.Packet(GuestPort, hostPort, VsockOp.ReadWrite, 5), "hello"u8);
            Assert.Equal("hello", Encoding.ASCII.GetString(ReadExactly(host, 5)));

            host.Send("world"u8);
            var data = Assert.Single(await d.AwaitRxAsync(Patience));
            Assert.Equal(VsockOp.ReadWrite, data.Header.Op);
            Assert.Equal((hostPort, GuestPort), (data.Header.SourcePort, data.Header.DestinationPort));
            Assert.Equal("world", Encoding.ASCII.GetString(data.Payload));
            Assert.Equal(5u, data.Header.ForwardCount); // the guest's 5 bytes went to the host socket

            host.Shutdown(SocketShutdown.Send);
            var eof = Assert.Single(await d.AwaitRxAsync(Patience));
            Assert.Equal((VsockOp.Shutdown, VsockPacketHeader.ShutdownSend), (eof.Header.Op, eof.Header.Flags));
        }
        // The guest closes its socket: SHUTDOWN both ways, answered RST, the stream forgotten.
        d.Send(d.Packet(GuestPort, hostPort, VsockOp.Shutdown, flags: VsockPacketHeader.ShutdownReceive | VsockPacketHeader.ShutdownSend));
        var rst = Assert.Single(d.ServeRx());
        Assert.Equal(VsockOp.Reset, rst.Header.Op);
        Assert.Equal(0, d.Vsock.StreamCount);
        Assert.True(d.CanaryIntact());
    }

    [Fact]
    public async Task A_guest_connects_to_host_port_p_through_the_socket_named_with_p_and_is_reset_where_nobody_listens()
    {
        using var d = new VsockTestDriver();
        using var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        listener.Bind(new UnixDomainSocketEndPoint(d.SocketPath + "_5000"));
        listener.Listen(1);
        d.Start();
        d.PostRxBuffers(8);

        d.Send(d.Packet(40000, 5000, VsockOp.Request));
        var response = Assert.Single(d.ServeRx());
        Assert.Equal((VsockOp.Response, 5000u, 40000u), (response.Header.Op, response.Header.SourcePort, response.Header.DestinationPort));
        using var accepted = await listener.AcceptAsync();
        accepted.ReceiveTimeout = (int)Patience.TotalMilliseconds;
        d.Send(d.Packet(40000, 5000, VsockOp.ReadWrite, 4), "ping"u8);
        Assert.Equal("ping", Encoding.ASCII.GetString(ReadExactly(accepted, 4)));
        accepted.Send("pong"u8);
        var reply = Assert.Single(await d.AwaitRxAsync(Patience));
        Assert.Equal("pong", Encoding.ASCII.GetString(reply.Payload));

        d.Send(d.Packet(40001, 5001, VsockOp.Request)); // no socket _5001
        var refused = Assert.Single(d.ServeRx());
        Assert.Equal((VsockOp.Reset, 5001u, 40001u), (refused.Header.Op, refused.Header.SourcePort, refused.Header.DestinationPort));
        Assert.Equal(1, d.Vsock.StreamCount);

        // The guest resets the stream: the host's end sees EOF.
        d.Send(d.Packet(40000, 5000, VsockOp.Reset));
        Assert.Equal(0, accepted.Receive(new byte[1]));
        Assert.Equal(0, d.Vsock.StreamCount);
    }

    [Fact]
    public async Task Data_to_the_guest_never_exceeds_its_credit_and_a_credit_update_releases_more()
    {
        using var d = new VsockTestDriver();
        d.Start();
        d.PostRxBuffers(8);
        var (host, hostPort) = await OpenFromHost(d, bufAlloc: 8);
        using (host)
        {
            host.Send(Encoding.ASCII.GetBytes("0123456789abcdef"));
            var first = Assert.Single(await d.AwaitRxAsync(Patience));
            Assert.Equal("01234567", Encoding.ASCII.GetString(first.Payload));
            Assert.Empty(d.ServeRx()); // out of credit: the rest waits in the host socket

            d.Send(d.Packet(GuestPort, hostPort, VsockOp.CreditUpdate, bufAlloc: 8, fwdCnt: 8));
            var second = Assert.Single(d.ServeRx());
            Assert.Equal("89abcdef", Encoding.ASCII.GetString(second.Payload));

            // A credit request is answered with our buf_alloc and fwd_cnt.
            d.Send(d.Packet(GuestPort, hostPort, VsockOp.CreditRequest, bufAlloc: 8, fwdCnt: 16));
            var update = Assert.Single(d.ServeRx());
            Assert.Equal((VsockOp.CreditUpdate, VirtioVsock.BufferAllocation, 0u), (update.Header.Op, update.Header.BufferAllocation, update.Header.ForwardCount));
        }
    }

    [Fact]
    public async Task A_guest_sending_beyond_its_credit_to_a_host_that_does_not_read_is_reset()
    {
        using var d = new VsockTestDriver();
        d.Start();
        d.PostRxBuffers(8);
        var (host, hostPort) = await OpenFromHost(d);
        using (host)
        {
            var chunk = new byte[VirtioVsock.MaxPayload];
            // The host never reads: the socket buffer fills, then our buffer; past BufferAllocation the stream is reset.
            for (int i = 0; i < 64 && d.Vsock.StreamCount == 1; i++)
                d.Send(d.Packet(GuestPort, hostPort, VsockOp.ReadWrite, (uint)chunk.Length), chunk);
            Assert.Equal(0, d.Vsock.StreamCount);
            Assert.Contains(d.ServeRx(), p => p.Header.Op == VsockOp.Reset && p.Header.DestinationPort == GuestPort);
        }
    }

    [Fact]
    public void Hostile_packets_are_dropped_or_reset_and_open_no_socket()
    {
        using var d = new VsockTestDriver();
        using var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        listener.Bind(new UnixDomainSocketEndPoint(d.SocketPath + "_7"));
        listener.Listen(4);
        listener.Blocking = false;
        d.Start();
        d.PostRxBuffers(16);

        d.Send(d.Packet(1, 7, VsockOp.Request), headerBytes: 20); // shorter than a header
        d.Send(d.Packet(1, 7, VsockOp.Request) with { SourceCid = 99 }); // pretends to be another guest
        d.Send(d.Packet(1, 7, VsockOp.Request) with { DestinationCid = 5 }); // not to the host
        d.Send(d.Packet(1, 7, VsockOp.ReadWrite, 1000), "short"u8); // len past its payload
        d.Send(d.Packet(1, 7, VsockOp.ReadWrite, 1 << 20), "x"u8); // len past any packet
        Assert.Equal(5, d.Vsock.DroppedPackets);
        Assert.Empty(d.ServeRx());

        d.Send(d.Packet(1, 7, VsockOp.Request) with { Type = 2 }); // seqpacket: not offered
        d.Send(d.Packet(2, 7, VsockOp.ReadWrite, 1), "x"u8); // data for no stream
        d.Send(d.Packet(3, 7, (VsockOp)99)); // no such operation
        var resets = d.ServeRx();
        Assert.Equal(3, resets.Count);
        Assert.All(resets, p => Assert.Equal(VsockOp.Reset, p.Header.Op));
        Assert.Equal(new uint[] { 1, 2, 3 }, resets.Select(p => p.Header.DestinationPort));
        Assert.Throws<SocketException>(() => listener.Accept()); // nobody connected to _7
        Assert.Equal(0, d.Vsock.StreamCount);
        Assert.True(d.CanaryIntact());
    }

    [Fact]
    public async Task A_host_process_that_writes_no_connect_line_is_closed()
    {
        using var d = new VsockTestDriver();
        d.Start();
        d.PostRxBuffers(4);
        using var garbage = ConnectHost(d.SocketPath);
        garbage.Send("HELLO 5\n"u8);
        using var tooLong = ConnectHost(d.SocketPath);
        tooLong.Send(Encoding.ASCII.GetBytes("CONNECT " + new string('1', 64)));
        using var badPort = ConnectHost(d.SocketPath);
        badPort.Send("CONNECT -1\n"u8);
        // Each is closed (EOF) without a packet to the guest; the device keeps serving.
        foreach (var s in new[] { garbage, tooLong, badPort })
        {
            var read = s.ReceiveAsync(new byte[1]);
            var deadline = DateTime.UtcNow + Patience;
            while (!read.IsCompleted && DateTime.UtcNow < deadline) await d.AwaitRxAsync(TimeSpan.FromMilliseconds(200));
            Assert.True(read.IsCompleted, "the device did not close the connection");
            // Closed: EOF, or a reset where the device closed with the client's bytes unread.
            try { Assert.Equal(0, await read); }
            catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionReset) { }
        }
        Assert.Empty(d.ServeRx());
        Assert.Equal(0, d.Vsock.StreamCount);
        var (host, _) = await OpenFromHost(d);
        host.Dispose();
    }

    [Fact]
    public async Task An_rx_buffer_too_small_for_a_header_breaks_the_device_not_the_host()
    {
        using var d = new VsockTestDriver();
        d.Start();
        d.PostRxBuffers(1, bytes: 8);
        using var host = ConnectHost(d.SocketPath);
        host.Send("CONNECT 9\n"u8);
        var deadline = DateTime.UtcNow + Patience;
        while (d.Transport.Faults == 0 && DateTime.UtcNow < deadline) await d.AwaitRxAsync(TimeSpan.FromMilliseconds(200));
        Assert.Equal(1, d.Transport.Faults);
        Assert.True((d.Transport.Status & VirtioDeviceStatus.DeviceNeedsReset) != 0);
        Assert.True(d.CanaryIntact());
    }

    [Fact]
    public void Random_tx_packets_never_touch_memory_outside_the_guest_nor_open_sockets()
    {
        using var d = new VsockTestDriver();
        d.Start();
        var random = new Random(19);
        var raw = new byte[VsockPacketHeader.Size];
        for (int i = 0; i < 2000; i++)
        {
            if (i % 8 == 0) d.PostRxBuffers(8);
            random.NextBytes(raw);
            var h = VsockPacketHeader.Read(raw);
            // Half addressed as the real guest, so the checks past the address are reached too.
            if (i % 2 == 0) h = h with { SourceCid = d.Cid, DestinationCid = VirtioVsock.HostCid, Type = VsockPacketHeader.TypeStream, Length = h.Length % 64 };
            var payload = new byte[random.Next(0, 64)];
            random.NextBytes(payload);
            d.Send(h, payload);
            d.ServeRx();
            if ((d.Transport.Status & VirtioDeviceStatus.DeviceNeedsReset) != 0) break;
        }
        Assert.True(d.CanaryIntact());
        Assert.Equal(0, d.Vsock.StreamCount); // no socket SocketPath_P exists, so nothing connected
        Assert.True(d.Vsock.DroppedPackets > 0 && d.Vsock.ResetsSent > 0, $"dropped {d.Vsock.DroppedPackets}, resets {d.Vsock.ResetsSent}");
    }
}
