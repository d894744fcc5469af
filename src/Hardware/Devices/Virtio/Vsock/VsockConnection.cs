using System.Net.Sockets;

namespace Actorvisor.Hardware.Devices.Virtio.Vsock;

/// <summary>
/// One stream between a guest port and a host Unix socket, as <see cref="VirtioVsock"/> tracks it: owns the host
/// socket, the state of the handshake, both sides' credit (virtio 1.x section 5.10.6.3: what the guest may still send
/// us is our buffer allocation less what we hold unforwarded; what we may send it is its buf_alloc less our bytes it has
/// not consumed) and the guest's bytes the host socket has not taken yet.
/// </summary>
internal sealed class VsockConnection(uint hostPort, uint guestPort, Socket socket, bool established) : IDisposable
{
    private readonly Queue<ArraySegment<byte>> _toHost = new();

    /// <summary>The host-side port: allocated for a host-initiated connection, the guest's destination port otherwise.</summary>
    public uint HostPort { get; } = hostPort;

    /// <summary>The guest's port.</summary>
    public uint GuestPort { get; } = guestPort;

    /// <summary>The host's end: the Unix socket a host process connected, or the one we connected to <c>uds_PORT</c>.</summary>
    public Socket Socket { get; } = socket;

    /// <summary>False while a host-initiated REQUEST waits for the guest's RESPONSE.</summary>
    public bool Established { get; set; } = established;

    /// <summary>The guest's receive buffer size (its last header's buf_alloc).</summary>
    public uint PeerBufferAllocation { get; set; }

    /// <summary>Bytes the guest has consumed of what we sent (its last header's fwd_cnt).</summary>
    public uint PeerForwardCount { get; set; }

    /// <summary>Payload bytes sent to the guest (wraps, as the header fields do).</summary>
    public uint SentToGuest { get; set; }

    /// <summary>Guest bytes written to the host socket (our fwd_cnt).</summary>
    public uint ForwardedToHost { get; set; }

    /// <summary>The fwd_cnt of the last header we sent the guest.</summary>
    public uint ForwardCountAnnounced { get; set; }

    /// <summary>The host side sent EOF (we told the guest SHUTDOWN(SEND)) or the guest stopped receiving.</summary>
    public bool HostReadClosed { get; set; }

    /// <summary>The guest will send no more: shut the host socket's writing once <see cref="PendingToHost"/> is out.</summary>
    public bool GuestSendClosed { get; set; }

    /// <summary>Guest bytes received but not yet written to the host socket.</summary>
    public long PendingToHost { get; private set; }

    /// <summary>What we may still send the guest: its buf_alloc less the bytes it has not consumed.</summary>
    public uint PeerCredit
    {
        get
        {
            uint inFlight = SentToGuest - PeerForwardCount;
            return inFlight >= PeerBufferAllocation ? 0 : PeerBufferAllocation - inFlight;
        }
    }

    /// <summary>Queues guest bytes for the host socket.</summary>
    public void QueueToHost(byte[] bytes, int count)
    {
        _toHost.Enqueue(new ArraySegment<byte>(bytes, 0, count));
        PendingToHost += count;
    }

    /// <summary>
    /// Writes queued bytes to the host socket without blocking, counting them as forwarded; once none are left and the
    /// guest sent SHUTDOWN(SEND), shuts the socket's writing. Returns false if the socket failed (the peer went away).
    /// </summary>
    public bool FlushToHost()
    {
        while (_toHost.TryPeek(out var segment))
        {
            int sent = Socket.Send(segment.AsSpan(), SocketFlags.None, out var error);
            if (error == SocketError.WouldBlock) return true;
            if (error != SocketError.Success) return false;
            ForwardedToHost += (uint)sent;
            PendingToHost -= sent;
            _toHost.Dequeue();
            if (sent < segment.Count)
            {
                // The rest stays first in line.
                var rest = segment[sent..].ToArray();
                var others = _toHost.ToArray();
                _toHost.Clear();
                _toHost.Enqueue(rest);
                foreach (var o in others) _toHost.Enqueue(o);
                return true;
            }
        }
        if (GuestSendClosed)
        {
            try { Socket.Shutdown(SocketShutdown.Send); }
            catch (SocketException) { return false; }
        }
        return true;
    }

    /// <summary>Closes the host socket.</summary>
    public void Dispose() => Socket.Dispose();
}
