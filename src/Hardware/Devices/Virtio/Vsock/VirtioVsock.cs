using System.Buffers;
using System.Buffers.Binary;
using System.Globalization;
using System.Net.Sockets;
using System.Text;

namespace Actorvisor.Hardware.Devices.Virtio.Vsock;

/// <summary>
/// A virtio-vsock device (virtio 1.x section 5.10, device id 19) on Firecracker's host model: owns the VM's host-side
/// Unix socket (<see cref="SocketPath"/>), the streams between guest ports and host sockets, and an I/O thread that
/// only watches the sockets. A host process connects to <see cref="SocketPath"/> and writes <c>CONNECT PORT\n</c> to
/// reach guest port PORT; once the guest accepts, it reads <c>OK HOSTPORT\n</c> and the stream is open. A guest
/// connecting to the host (CID 2) port P is connected to the Unix socket <c>SocketPath_P</c>. Queues: RX (0) carries
/// packets to the guest, TX (1) from it, the event queue (2) keeps its buffers (no transport event is ever sent).
/// Flow control is the spec's credit scheme: the guest may have at most <see cref="BufferAllocation"/> bytes
/// unforwarded with us (more and the stream is reset), we send it no more than its buf_alloc allows. All stream state
/// changes in <see cref="ServeQueue"/> (one call at a time); the I/O thread asks for an RX round when a socket is ready
/// (through <see cref="SetServiceRequest"/>). A packet that is malformed, not addressed guest-to-host, not a stream or
/// for no stream is dropped or answered RST, never trusted: the guest cannot make the device touch other sockets.
/// </summary>
public sealed class VirtioVsock : IVirtioDevice, IDisposable
{
    /// <summary>virtio device id 19.</summary>
    public const uint SocketDeviceType = 19;
    /// <summary>The host's CID (VMADDR_CID_HOST).</summary>
    public const ulong HostCid = 2;
    /// <summary>The smallest CID a guest may have (0-2 are reserved).</summary>
    public const ulong MinimumGuestCid = 3;
    /// <summary>The largest CID a guest may have (0xffffffff is VMADDR_CID_ANY; Linux addresses CIDs in 32 bits).</summary>
    public const ulong MaximumGuestCid = 0xffff_fffe;
    /// <summary>The queue of packets to the guest.</summary>
    public const int RxQueue = 0;
    /// <summary>The queue of packets from the guest.</summary>
    public const int TxQueue = 1;
    /// <summary>The event queue.</summary>
    public const int EventQueue = 2;
    /// <summary>The queue size offered.</summary>
    public const ushort QueueSize = 256;
    /// <summary>Our receive buffer per stream (buf_alloc): guest bytes we hold before the host socket takes them.</summary>
    public const uint BufferAllocation = 256 * 1024;
    /// <summary>The largest payload of one packet either way (Linux's own limit, VIRTIO_VSOCK_MAX_PKT_BUF_SIZE).</summary>
    public const int MaxPayload = 64 * 1024;
    /// <summary>The first port handed to host-initiated streams (as Firecracker does: above the guest's ephemeral range).</summary>
    public const uint FirstHostPort = 1u << 30;
    /// <summary>Longest <c>CONNECT PORT\n</c> line a host process may write.</summary>
    public const int MaxConnectLine = 32;

    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(100);
    private static readonly TimeSpan ServiceWait = TimeSpan.FromMilliseconds(250);

    private readonly object _gate = new(); // the tables, for the I/O thread's view of what to watch
    private readonly Socket _listener;
    private readonly Dictionary<(uint Host, uint Guest), VsockConnection> _streams = new();
    private readonly List<HostHandshake> _handshakes = new();
    private readonly Queue<(uint Host, uint Guest, VsockOp Op, uint Flags)> _control = new();
    private readonly AutoResetEvent _served = new(false);
    private readonly Thread _io;
    private Action? _serviceRequest;
    private volatile bool _starved, _stopping;
    private uint _nextHostPort = FirstHostPort;
    private int _roundRobin;
    private long _packetsToGuest, _packetsFromGuest, _dropped, _resets, _bytesToGuest, _bytesFromGuest;

    /// <summary>
    /// A device for guest <paramref name="guestCid"/> listening on the Unix socket <paramref name="socketPath"/> (a stale
    /// socket file there is replaced).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">the CID is reserved or above 32 bits.</exception>
    /// <exception cref="SocketException">the socket cannot be bound (no such directory, path too long).</exception>
    public VirtioVsock(ulong guestCid, string socketPath, string name = "vsock")
    {
        if (guestCid is < MinimumGuestCid or > MaximumGuestCid)
            throw new ArgumentOutOfRangeException(nameof(guestCid), guestCid, $"a guest CID is {MinimumGuestCid}..{MaximumGuestCid}");
        ArgumentException.ThrowIfNullOrEmpty(socketPath);
        ArgumentException.ThrowIfNullOrEmpty(name);
        GuestCid = guestCid;
        SocketPath = socketPath;
        Name = name;
        if (File.Exists(socketPath)) File.Delete(socketPath);
        _listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            _listener.Bind(new UnixDomainSocketEndPoint(socketPath));
            _listener.Listen(64);
            _listener.Blocking = false;
        }
        catch
        {
            _listener.Dispose();
            throw;
        }
        _io = new Thread(WatchSockets) { IsBackground = true, Name = $"{name}-io" };
        _io.Start();
    }

    /// <inheritdoc />
    public string Name { get; }

    /// <summary>The guest's CID (configuration space field guest_cid).</summary>
    public ulong GuestCid { get; }

    /// <summary>The Unix socket host processes connect to.</summary>
    public string SocketPath { get; }

    /// <summary>Open streams (host-initiated ones count from the REQUEST).</summary>
    public int StreamCount
    {
        get { lock (_gate) return _streams.Count; }
    }

    /// <summary>Packets put on the RX queue.</summary>
    public long PacketsToGuest => Interlocked.Read(ref _packetsToGuest);
    /// <summary>Packets taken from the TX queue.</summary>
    public long PacketsFromGuest => Interlocked.Read(ref _packetsFromGuest);
    /// <summary>Guest packets dropped as malformed or misaddressed.</summary>
    public long DroppedPackets => Interlocked.Read(ref _dropped);
    /// <summary>RST packets sent to the guest.</summary>
    public long ResetsSent => Interlocked.Read(ref _resets);
    /// <summary>Payload bytes sent to the guest.</summary>
    public long BytesToGuest => Interlocked.Read(ref _bytesToGuest);
    /// <summary>Payload bytes received from the guest.</summary>
    public long BytesFromGuest => Interlocked.Read(ref _bytesFromGuest);

    /// <inheritdoc />
    public uint DeviceType => SocketDeviceType;

    /// <inheritdoc />
    public ulong DeviceFeatures => 0; // stream sockets only: a driver assumes them when no socket-type feature is offered

    /// <inheritdoc />
    public int QueueCount => 3;

    /// <inheritdoc />
    public ushort MaxQueueSize => QueueSize;

    /// <summary>How the device asks for an RX round (the transport's notify path for <see cref="RxQueue"/>); null: none.</summary>
    public void SetServiceRequest(Action? request) => Volatile.Write(ref _serviceRequest, request);

    /// <inheritdoc />
    public void ReadConfig(uint offset, Span<byte> data)
    {
        Span<byte> config = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(config, GuestCid);
        for (int i = 0; i < data.Length; i++)
        {
            ulong at = offset + (ulong)i;
            data[i] = at < (ulong)config.Length ? config[(int)at] : (byte)0;
        }
    }

    /// <inheritdoc />
    public void WriteConfig(uint offset, ReadOnlySpan<byte> data)
    {
        // guest_cid is read-only.
    }

    /// <inheritdoc />
    public void Reset()
    {
        // The driver reset the device: its streams are gone (the guest's sockets were reset with it).
        lock (_gate)
        {
            foreach (var s in _streams.Values) s.Dispose();
            _streams.Clear();
            _control.Clear();
            _starved = false;
        }
    }

    /// <inheritdoc />
    public bool ServeQueue(int queue, SplitVirtqueue virtqueue, ulong negotiatedFeatures, int budget)
    {
        bool more = queue switch
        {
            TxQueue => ServeTx(virtqueue, budget),
            RxQueue => ServeRx(virtqueue, budget),
            _ => false, // the event queue's buffers wait for events this device never sends
        };
        if (queue == RxQueue) _served.Set();
        return more;
    }

    // ---- from the guest ----

    private bool ServeTx(SplitVirtqueue tx, int budget)
    {
        int served = 0;
        for (; served < budget; served++)
        {
            if (!tx.TryTake(out var chain)) break;
            Interlocked.Increment(ref _packetsFromGuest);
            lock (_gate) FromGuest(chain!);
            tx.Complete(chain!.Head, 0);
        }
        // Answers, credit and freed room may be waiting for the RX queue.
        if (served > 0) RequestService();
        return served == budget;
    }

    // Under _gate.
    private void FromGuest(DescriptorChain chain)
    {
        if (chain.ReadableLength < VsockPacketHeader.Size) { Drop(); return; }
        Span<byte> raw = stackalloc byte[VsockPacketHeader.Size];
        chain.ReadFrom(0, raw);
        var h = VsockPacketHeader.Read(raw);
        if (h.SourceCid != GuestCid || h.DestinationCid != HostCid) { Drop(); return; }
        if (h.Length > MaxPayload || h.Length > chain.ReadableLength - VsockPacketHeader.Size) { Drop(); return; }
        var key = (h.DestinationPort, h.SourcePort);
        if (h.Type != VsockPacketHeader.TypeStream)
        {
            if (h.Op != VsockOp.Reset) QueueControl(key, VsockOp.Reset);
            return;
        }
        _streams.TryGetValue(key, out var stream);
        if (stream is not null)
        {
            stream.PeerBufferAllocation = h.BufferAllocation;
            stream.PeerForwardCount = h.ForwardCount;
        }
        switch (h.Op)
        {
            case VsockOp.Request when stream is null:
                ConnectToHost(key, h);
                return;
            case VsockOp.Reset:
                if (stream is not null) Close(stream);
                return;
            case VsockOp.Invalid or VsockOp.Request or > VsockOp.CreditRequest when stream is not null:
                ResetStream(stream); // a REQUEST for an open stream, or no operation at all
                return;
            case VsockOp.Response when stream is { Established: false }:
                stream.Established = true;
                var ok = Encoding.ASCII.GetBytes($"OK {stream.HostPort}\n");
                if (stream.Socket.Send(ok, SocketFlags.None, out var error) != ok.Length || error != SocketError.Success) ResetStream(stream);
                return;
            case VsockOp.ReadWrite when stream is { Established: true }:
                Receive(stream, chain, h.Length);
                return;
            case VsockOp.Shutdown when stream is { Established: true }:
                if ((h.Flags & VsockPacketHeader.ShutdownReceive) != 0) stream.HostReadClosed = true;
                if ((h.Flags & VsockPacketHeader.ShutdownSend) != 0) stream.GuestSendClosed = true;
                if (stream.HostReadClosed && stream.GuestSendClosed)
                {
                    // Both ways closed: what the host has not taken is dropped, the guest waits for our RST.
                    ResetStream(stream);
                    return;
                }
                if (!stream.FlushToHost()) ResetStream(stream);
                return;
            case VsockOp.CreditRequest when stream is { Established: true }:
                QueueControl(key, VsockOp.CreditUpdate);
                return;
            case VsockOp.CreditUpdate when stream is { Established: true }:
                return; // the credit was taken from the header above
            case VsockOp.Response or VsockOp.ReadWrite or VsockOp.Shutdown or VsockOp.CreditRequest or VsockOp.CreditUpdate when stream is not null:
                ResetStream(stream); // out of order for the stream's state
                return;
            default:
                QueueControl(key, VsockOp.Reset); // for no stream
                return;
        }
    }

    private void Drop() => Interlocked.Increment(ref _dropped);

    // Under _gate. The guest connects to host port key.Host: the Unix socket SocketPath_PORT.
    private void ConnectToHost((uint Host, uint Guest) key, VsockPacketHeader h)
    {
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            socket.Connect(new UnixDomainSocketEndPoint($"{SocketPath}_{key.Host.ToString(CultureInfo.InvariantCulture)}"));
            socket.Blocking = false;
        }
        catch (Exception e) when (e is SocketException or ArgumentException)
        {
            socket.Dispose();
            QueueControl(key, VsockOp.Reset); // nobody listens there
            return;
        }
        var stream = new VsockConnection(key.Host, key.Guest, socket, established: true)
        {
            PeerBufferAllocation = h.BufferAllocation, PeerForwardCount = h.ForwardCount,
        };
        _streams[key] = stream;
        QueueControl(key, VsockOp.Response);
    }

    // Under _gate. Stream data from the guest, within the credit we gave.
    private void Receive(VsockConnection stream, DescriptorChain chain, uint length)
    {
        if (stream.GuestSendClosed || stream.PendingToHost + length > BufferAllocation)
        {
            ResetStream(stream); // it sent after SHUTDOWN(SEND), or beyond its credit
            return;
        }
        if (length == 0) return;
        var bytes = new byte[length];
        chain.ReadFrom(VsockPacketHeader.Size, bytes);
        Interlocked.Add(ref _bytesFromGuest, length);
        stream.QueueToHost(bytes, bytes.Length);
        if (!stream.FlushToHost()) ResetStream(stream);
        else AnnounceCreditIfDue(stream);
    }

    // Under _gate. Tells the guest of room it has not heard of once a quarter of the buffer was forwarded: a sender out
    // of credit would otherwise wait for a CREDIT_REQUEST round trip.
    private void AnnounceCreditIfDue(VsockConnection stream)
    {
        if (stream.ForwardedToHost - stream.ForwardCountAnnounced >= BufferAllocation / 4)
            QueueControl((stream.HostPort, stream.GuestPort), VsockOp.CreditUpdate);
    }

    // Under _gate.
    private void ResetStream(VsockConnection stream)
    {
        Close(stream);
        QueueControl((stream.HostPort, stream.GuestPort), VsockOp.Reset);
    }

    // Under _gate.
    private void Close(VsockConnection stream)
    {
        _streams.Remove((stream.HostPort, stream.GuestPort));
        stream.Dispose();
    }

    // Under _gate.
    private void QueueControl((uint Host, uint Guest) key, VsockOp op, uint flags = 0) => _control.Enqueue((key.Host, key.Guest, op, flags));

    // ---- to the guest ----

    private bool ServeRx(SplitVirtqueue rx, int budget)
    {
        lock (_gate)
        {
            _starved = false;
            AcceptHostConnections();
            ReadConnectLines();
            FlushToHost();
            int sent = 0;
            while (sent < budget)
            {
                if (_control.TryPeek(out var next))
                {
                    _streams.TryGetValue((next.Host, next.Guest), out var stream);
                    if (next.Op != VsockOp.Reset && stream is null)
                    {
                        _control.Dequeue(); // the stream went since: nothing to say about it
                        continue;
                    }
                    if (!rx.TryTake(out var chain)) { _starved = true; return false; }
                    _control.Dequeue();
                    rx.Complete(chain!.Head, WritePacket(chain, next.Host, next.Guest, next.Op, next.Flags, stream, ReadOnlySpan<byte>.Empty));
                    sent++;
                    continue;
                }
                var data = NextReadable();
                if (data is null) return false;
                if (!rx.TryTake(out var rxChain)) { _starved = true; return false; }
                rx.Complete(rxChain!.Head, SendData(data, rxChain));
                sent++;
            }
            return true;
        }
    }

    // Under _gate. A stream the guest can take data from and whose host socket has data (or its EOF) waiting, in turn.
    private VsockConnection? NextReadable()
    {
        if (_streams.Count == 0) return null;
        var streams = _streams.Values.ToArray();
        for (int i = 0; i < streams.Length; i++)
        {
            var s = streams[(_roundRobin + i) % streams.Length];
            if (!s.Established || s.HostReadClosed || s.PeerCredit == 0) continue;
            if (s.Socket.Available > 0 || HostSentEof(s.Socket))
            {
                _roundRobin = (_roundRobin + i + 1) % streams.Length;
                return s;
            }
        }
        return null;
    }

    private static bool HostSentEof(Socket socket)
    {
        try { return socket.Poll(0, SelectMode.SelectRead) && socket.Available == 0; }
        catch (SocketException) { return true; }
    }

    // Under _gate. One RW packet with what the host socket has, or SHUTDOWN(SEND) at its EOF; returns the bytes written.
    private uint SendData(VsockConnection stream, DescriptorChain chain)
    {
        if (chain.WritableLength < VsockPacketHeader.Size)
            throw new VirtqueueFaultException($"vsock RX buffer {chain.Head} has {chain.WritableLength} writable bytes; a packet header takes {VsockPacketHeader.Size}");
        int room = (int)Math.Min(Math.Min(chain.WritableLength - VsockPacketHeader.Size, MaxPayload), stream.PeerCredit);
        var buffer = ArrayPool<byte>.Shared.Rent(Math.Max(room, 1));
        try
        {
            var error = SocketError.Success;
            int n = room == 0 ? 0 : stream.Socket.Receive(buffer.AsSpan(0, room), SocketFlags.None, out error);
            if (room > 0 && (n == 0 || error != SocketError.Success))
            {
                if (error == SocketError.WouldBlock) n = 0;
                else
                {
                    // EOF (or a failed socket): the host sends no more.
                    stream.HostReadClosed = true;
                    return WritePacket(chain, stream.HostPort, stream.GuestPort, VsockOp.Shutdown, VsockPacketHeader.ShutdownSend, stream, ReadOnlySpan<byte>.Empty);
                }
            }
            stream.SentToGuest += (uint)n;
            Interlocked.Add(ref _bytesToGuest, n);
            return WritePacket(chain, stream.HostPort, stream.GuestPort, n == 0 ? VsockOp.CreditUpdate : VsockOp.ReadWrite, 0, stream, buffer.AsSpan(0, n));
        }
        finally { ArrayPool<byte>.Shared.Return(buffer); }
    }

    // Under _gate. Returns the bytes written into the chain.
    private uint WritePacket(DescriptorChain chain, uint hostPort, uint guestPort, VsockOp op, uint flags, VsockConnection? stream, ReadOnlySpan<byte> payload)
    {
        if (chain.WritableLength < VsockPacketHeader.Size + payload.Length)
            throw new VirtqueueFaultException($"vsock RX buffer {chain.Head} has {chain.WritableLength} writable bytes; the packet takes {VsockPacketHeader.Size + payload.Length}");
        uint forwarded = stream?.ForwardedToHost ?? 0;
        if (stream is not null) stream.ForwardCountAnnounced = forwarded;
        var header = new VsockPacketHeader(HostCid, GuestCid, hostPort, guestPort, (uint)payload.Length, VsockPacketHeader.TypeStream, op, flags,
            stream is null ? 0 : BufferAllocation, forwarded);
        Span<byte> raw = stackalloc byte[VsockPacketHeader.Size];
        header.Write(raw);
        chain.WriteTo(0, raw);
        if (!payload.IsEmpty) chain.WriteTo(VsockPacketHeader.Size, payload);
        Interlocked.Increment(ref _packetsToGuest);
        if (op == VsockOp.Reset) Interlocked.Increment(ref _resets);
        return (uint)(VsockPacketHeader.Size + payload.Length);
    }

    // ---- the host side ----

    // Under _gate.
    private void AcceptHostConnections()
    {
        while (_handshakes.Count < 64)
        {
            Socket accepted;
            try { accepted = _listener.Accept(); }
            catch (SocketException) { return; } // none waiting (the listener does not block)
            accepted.Blocking = false;
            _handshakes.Add(new HostHandshake(accepted));
        }
    }

    // Under _gate. "CONNECT PORT\n" from host processes: each becomes a REQUEST to the guest; anything else is closed.
    private void ReadConnectLines()
    {
        for (int i = _handshakes.Count - 1; i >= 0; i--)
        {
            var hs = _handshakes[i];
            var line = hs.TryReadLine(out bool failed);
            if (line is null && !failed) continue;
            _handshakes.RemoveAt(i);
            if (line is null || !TryParseConnect(line, out uint port))
            {
                hs.Socket.Dispose();
                continue;
            }
            uint hostPort = AllocateHostPort(port);
            var stream = new VsockConnection(hostPort, port, hs.Socket, established: false);
            _streams[(hostPort, port)] = stream;
            QueueControl((hostPort, port), VsockOp.Request);
        }
    }

    private static bool TryParseConnect(string line, out uint port)
    {
        port = 0;
        return line.StartsWith("CONNECT ", StringComparison.Ordinal)
               && uint.TryParse(line.AsSpan("CONNECT ".Length).Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out port);
    }

    // Under _gate. A host port no open stream to the same guest port uses.
    private uint AllocateHostPort(uint guestPort)
    {
        while (true)
        {
            uint candidate = _nextHostPort;
            _nextHostPort = _nextHostPort == uint.MaxValue ? FirstHostPort : _nextHostPort + 1;
            if (!_streams.ContainsKey((candidate, guestPort))) return candidate;
        }
    }

    // Under _gate. Guest bytes the host sockets could not take at once.
    private void FlushToHost()
    {
        foreach (var s in _streams.Values.Where(s => s.PendingToHost > 0).ToList())
        {
            if (!s.FlushToHost()) ResetStream(s);
            else AnnounceCreditIfDue(s);
        }
    }

    private void RequestService() => Volatile.Read(ref _serviceRequest)?.Invoke();

    // The I/O thread: waits for a socket to need the device, asks for an RX round, and waits for it before looking again
    // (readiness stays until the round consumes it). With the RX queue starved, streams' data waits for the guest.
    private void WatchSockets()
    {
        while (!_stopping)
        {
            var reads = new List<Socket>();
            var writes = new List<Socket>();
            lock (_gate)
            {
                reads.Add(_listener);
                reads.AddRange(_handshakes.Select(h => h.Socket));
                if (!_starved)
                {
                    foreach (var s in _streams.Values)
                    {
                        if (s.Established && !s.HostReadClosed && s.PeerCredit > 0) reads.Add(s.Socket);
                        if (s.PendingToHost > 0) writes.Add(s.Socket);
                    }
                    if (_control.Count > 0) { reads.Clear(); writes.Clear(); } // something is already waiting: ask at once
                }
            }
            bool due = reads.Count == 0 && writes.Count == 0;
            if (!due)
            {
                try
                {
                    Socket.Select(reads, writes, null, (int)(PollInterval.TotalMilliseconds * 1000));
                    due = reads.Count > 0 || writes.Count > 0;
                }
                catch (Exception e) when (e is SocketException or ObjectDisposedException)
                {
                    due = true; // a socket closed under the wait: a round sorts it out
                }
            }
            if (_stopping) return;
            if (due)
            {
                RequestService();
                _served.WaitOne(ServiceWait);
            }
        }
    }

    /// <summary>Stops the I/O thread, closes every socket and removes the listening socket's file.</summary>
    public void Dispose()
    {
        if (_stopping) return;
        _stopping = true;
        SetServiceRequest(null);
        // The thread ends within one poll interval unless it is inside a round the caller holds up.
        bool ended = _io.Join(TimeSpan.FromSeconds(1));
        lock (_gate)
        {
            foreach (var s in _streams.Values) s.Dispose();
            _streams.Clear();
            foreach (var h in _handshakes) h.Socket.Dispose();
            _handshakes.Clear();
        }
        _listener.Dispose();
        if (ended) _served.Dispose();
        try { File.Delete(SocketPath); }
        catch (IOException) { } // gone already
    }

    /// <summary>A host process's connection until its CONNECT line is complete.</summary>
    private sealed class HostHandshake(Socket socket)
    {
        private readonly byte[] _line = new byte[MaxConnectLine];
        private int _length;

        public Socket Socket { get; } = socket;

        // The line without its newline once complete; null while incomplete, or with failed set on EOF, an error or a
        // line too long. Reads one byte at a time, so nothing after the newline (the stream's first bytes) is taken.
        public string? TryReadLine(out bool failed)
        {
            failed = false;
            while (_length < _line.Length)
            {
                int n = Socket.Receive(_line.AsSpan(_length, 1), SocketFlags.None, out var error);
                if (error == SocketError.WouldBlock) return null;
                if (error != SocketError.Success || n == 0) { failed = true; return null; }
                if (_line[_length] == (byte)'\n') return Encoding.ASCII.GetString(_line, 0, _length);
                _length++;
            }
            failed = true;
            return null;
        }
    }
}
