using System.Buffers.Binary;
using Actorvisor.Hardware.Native;

namespace Actorvisor.Hardware.Devices.Virtio;

/// <summary>
/// A virtio-net device (virtio 1.x section 5.1) over a Linux tap: owns the <see cref="TapDevice"/>, the watch on it
/// (<see cref="StartTapWatch"/>), the MAC address it offers (VIRTIO_NET_F_MAC), one received frame waiting for a
/// guest buffer and the frame counters. Queue 0 receives: each frame read from the tap goes, behind a 12-byte
/// virtio_net_hdr (no offloads, num_buffers 1: VIRTIO_NET_F_MRG_RXBUF is not offered), into one device-writable
/// chain; a frame larger than the chain is dropped and the chain returned empty (the driver counts a length error and
/// reuses it). Queue 1 transmits: each chain
/// is a header and a frame, written to the tap as one frame. A chain without room for the header, or a receive chain
/// with device-readable buffers, is a malformed ring (the transport marks the device for reset). One
/// <see cref="ServeQueue"/> call moves at most its budget of frames.
/// </summary>
public sealed class VirtioNet : IVirtioDevice, IDisposable
{
    /// <summary>virtio device id 1.</summary>
    public const uint NetDeviceType = 1;
    /// <summary>VIRTIO_NET_F_MAC (5): the configuration space holds the card's address.</summary>
    public const int FeatureMac = 5;
    /// <summary>The receive queue's index.</summary>
    public const int ReceiveQueue = 0;
    /// <summary>The transmit queue's index.</summary>
    public const int TransmitQueue = 1;
    /// <summary>Bytes of struct virtio_net_hdr with VERSION_1 (num_buffers included).</summary>
    public const int HeaderSize = 12;
    /// <summary>The queue size offered.</summary>
    public const ushort QueueSize = 256;
    /// <summary>Bytes of an Ethernet header: a shorter frame is not sent.</summary>
    public const int EthernetHeaderSize = 14;

    private readonly TapDevice _tap;
    private readonly byte[] _mac;
    private readonly byte[] _rxFrame = new byte[TapDevice.MaxFrameBytes];
    private readonly byte[] _txFrame = new byte[TapDevice.MaxFrameBytes];
    private int _pendingLength = -1; // a frame read from the tap that no guest buffer has taken yet
    private OneShotReadPoller? _watch;
    private long _received, _transmitted, _receiveDrops, _transmitDrops;

    /// <summary>A card with address <paramref name="mac"/> on <paramref name="tap"/> (it takes ownership).</summary>
    public VirtioNet(TapDevice tap, MacAddress mac, string name = "net0")
    {
        _tap = tap ?? throw new ArgumentNullException(nameof(tap));
        ArgumentException.ThrowIfNullOrEmpty(name);
        Name = name;
        Mac = mac;
        _mac = mac.Bytes();
    }

    /// <inheritdoc />
    public string Name { get; }

    /// <summary>The card's address.</summary>
    public MacAddress Mac { get; }

    /// <summary>The tap interface's name.</summary>
    public string TapName => _tap.Name;

    /// <summary>Frames put into guest receive buffers.</summary>
    public long FramesReceived => Interlocked.Read(ref _received);
    /// <summary>Frames the guest sent that reached the tap.</summary>
    public long FramesTransmitted => Interlocked.Read(ref _transmitted);
    /// <summary>Frames from the tap dropped because they did not fit a guest buffer.</summary>
    public long ReceiveDrops => Interlocked.Read(ref _receiveDrops);
    /// <summary>Frames the guest sent that were dropped (too short, too long, offloads not negotiated, the tap full or down).</summary>
    public long TransmitDrops => Interlocked.Read(ref _transmitDrops);

    /// <inheritdoc />
    public uint DeviceType => NetDeviceType;

    /// <inheritdoc />
    public ulong DeviceFeatures => VirtioFeature.Bit(FeatureMac);

    /// <inheritdoc />
    public int QueueCount => 2;

    /// <inheritdoc />
    public ushort MaxQueueSize => QueueSize;

    /// <summary>
    /// Starts watching the tap: when a frame arrives, <paramref name="readable"/> is called once (it should make the
    /// receive queue be served: <see cref="VirtioMmioTransport.Notify"/>), and the watch re-arms when a round finds
    /// the tap empty. Without a watch, frames are read only when the receive queue is served for another reason.
    /// </summary>
    public void StartTapWatch(Action readable)
    {
        if (_watch is not null) throw new InvalidOperationException($"{Name} already watches {_tap.Name}");
        _watch = new OneShotReadPoller(_tap.Descriptor, readable, $"{Name}/{_tap.Name}");
    }

    /// <inheritdoc />
    public void ReadConfig(uint offset, Span<byte> data)
    {
        // struct virtio_net_config: mac[6] first; status, max_virtqueue_pairs and mtu belong to features not offered.
        for (int i = 0; i < data.Length; i++)
        {
            ulong at = offset + (ulong)i;
            data[i] = at < MacAddress.Length ? _mac[at] : (byte)0;
        }
    }

    /// <inheritdoc />
    public void WriteConfig(uint offset, ReadOnlySpan<byte> data)
    {
        // The MAC is the VM spec's; a driver's write of it (legacy behaviour) is ignored.
    }

    /// <inheritdoc />
    public void Reset()
    {
        _pendingLength = -1;
    }

    /// <inheritdoc />
    public bool ServeQueue(int queue, SplitVirtqueue virtqueue, ulong negotiatedFeatures, int budget) => queue switch
    {
        ReceiveQueue => Receive(virtqueue, budget),
        TransmitQueue => Transmit(virtqueue, budget),
        _ => false,
    };

    private bool Receive(SplitVirtqueue virtqueue, int budget)
    {
        Span<byte> header = stackalloc byte[HeaderSize];
        for (int moved = 0; moved < budget; moved++)
        {
            if (_pendingLength < 0)
            {
                _pendingLength = _tap.TryRead(_rxFrame);
                if (_pendingLength < 0)
                {
                    _watch?.Arm(); // drained: wake us when the next frame comes
                    return false;
                }
            }
            if (!virtqueue.TryTake(out var chain)) return false; // the frame waits for the guest's next buffers
            if (chain!.Readable.Count > 0)
                throw new VirtqueueFaultException($"receive chain {chain.Head} has {chain.Readable.Count} device-readable buffers; receive buffers are device-writable only");
            if (chain.WritableLength < HeaderSize)
                throw new VirtqueueFaultException($"receive chain {chain.Head} has {chain.WritableLength} bytes, less than the {HeaderSize}-byte header");
            int length = _pendingLength;
            _pendingLength = -1;
            if (HeaderSize + length > chain.WritableLength)
            {
                Interlocked.Increment(ref _receiveDrops);
                virtqueue.Complete(chain.Head, 0);
                continue;
            }
            header.Clear();
            BinaryPrimitives.WriteUInt16LittleEndian(header[10..], 1); // num_buffers
            chain.WriteTo(0, header);
            chain.WriteTo(HeaderSize, _rxFrame.AsSpan(0, length));
            virtqueue.Complete(chain.Head, (uint)(HeaderSize + length));
            Interlocked.Increment(ref _received);
        }
        return true;
    }

    private bool Transmit(SplitVirtqueue virtqueue, int budget)
    {
        Span<byte> header = stackalloc byte[HeaderSize];
        for (int moved = 0; moved < budget; moved++)
        {
            if (!virtqueue.TryTake(out var chain)) return false;
            if (chain!.ReadableLength < HeaderSize)
                throw new VirtqueueFaultException($"transmit chain {chain.Head} has {chain.ReadableLength} readable bytes, less than the {HeaderSize}-byte header");
            long length = chain.ReadableLength - HeaderSize;
            chain.ReadFrom(0, header);
            byte gsoType = header[1];
            // No offload was offered, so a segmentation request (gso_type other than NONE) cannot be honoured.
            if (length < EthernetHeaderSize || length > _txFrame.Length || gsoType != 0)
            {
                Interlocked.Increment(ref _transmitDrops);
            }
            else
            {
                chain.ReadFrom(HeaderSize, _txFrame.AsSpan(0, (int)length));
                if (_tap.TryWrite(_txFrame.AsSpan(0, (int)length))) Interlocked.Increment(ref _transmitted);
                else Interlocked.Increment(ref _transmitDrops);
            }
            virtqueue.Complete(chain.Head, 0);
        }
        return true;
    }

    /// <summary>Stops the tap watch and closes the tap.</summary>
    public void Dispose()
    {
        _watch?.Dispose();
        _tap.Dispose();
    }
}
