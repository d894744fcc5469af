using Actorvisor.Hardware.Devices.Virtio.Vsock;

namespace Actorvisor.Hardware.Machines;

/// <summary>
/// A machine's virtio-vsock device: the guest's CID and the host-side Unix socket host processes connect to (guest
/// connections to host port P go to <c>SocketPath_P</c>). The node places the socket under its run directory; a local
/// run or a test names it.
/// </summary>
public sealed record VirtioVsockSpec
{
    /// <summary>The guest's context id, <see cref="VirtioVsock.MinimumGuestCid"/>..<see cref="VirtioVsock.MaximumGuestCid"/>.</summary>
    public required ulong GuestCid { get; init; }

    /// <summary>The Unix socket the device listens on.</summary>
    public required string SocketPath { get; init; }

    /// <summary>Opens the device (binds the socket); the caller owns it.</summary>
    public VirtioVsock Open() => new(GuestCid, SocketPath);

    /// <inheritdoc />
    public override string ToString() => $"cid {GuestCid} at {SocketPath}";
}
