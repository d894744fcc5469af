namespace Actorvisor.Hardware.Devices.Virtio.Vsock;

/// <summary>The operation of a virtio-vsock packet (virtio 1.x section 5.10.6, VIRTIO_VSOCK_OP_*).</summary>
public enum VsockOp : ushort
{
    /// <summary>Not a valid operation.</summary>
    Invalid = 0,
    /// <summary>Connect to the destination port.</summary>
    Request = 1,
    /// <summary>The connection request was accepted.</summary>
    Response = 2,
    /// <summary>The connection is (or was never) there: forget it.</summary>
    Reset = 3,
    /// <summary>The sender stops receiving and/or sending (flags <see cref="VsockPacketHeader.ShutdownReceive"/>, <see cref="VsockPacketHeader.ShutdownSend"/>).</summary>
    Shutdown = 4,
    /// <summary>Stream data.</summary>
    ReadWrite = 5,
    /// <summary>The sender's buf_alloc and fwd_cnt, unasked.</summary>
    CreditUpdate = 6,
    /// <summary>Asks the peer for a <see cref="CreditUpdate"/>.</summary>
    CreditRequest = 7,
}
