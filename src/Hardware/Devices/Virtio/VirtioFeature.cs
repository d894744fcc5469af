namespace Actorvisor.Hardware.Devices.Virtio;

/// <summary>The transport-level feature bits (virtio 1.x section 6) this implementation knows.</summary>
public static class VirtioFeature
{
    /// <summary>VIRTIO_F_RING_INDIRECT_DESC (28): indirect descriptor tables. Not offered: a descriptor flagged indirect is a malformed ring.</summary>
    public const int RingIndirectDesc = 28;
    /// <summary>VIRTIO_F_RING_EVENT_IDX (29): used_event / avail_event interrupt and notification suppression.</summary>
    public const int RingEventIdx = 29;
    /// <summary>VIRTIO_F_VERSION_1 (32): a virtio 1.x device; required of every driver of this transport.</summary>
    public const int Version1 = 32;

    /// <summary>The bit mask of feature <paramref name="bit"/>.</summary>
    public static ulong Bit(int bit) => 1UL << bit;

    /// <summary>The features every device on this transport offers: version 1 and event index.</summary>
    public static ulong Transport => Bit(Version1) | Bit(RingEventIdx);
}
