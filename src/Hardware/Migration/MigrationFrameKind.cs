namespace Actorvisor.Hardware.Migration;

/// <summary>
/// The kinds of frame on a migration stream (<see cref="MigrationChannel"/>): each frame is the kind byte, a
/// little-endian u32 body length and the body.
/// </summary>
public enum MigrationFrameKind : byte
{
    /// <summary>Source to target, first: a <see cref="MigrationHeader"/>.</summary>
    Header = 1,

    /// <summary>Target to source: the header is accepted, memory is allocated; pages may come.</summary>
    Accepted = 2,

    /// <summary>Target to source: refused, with the reason in UTF-8. The stream ends.</summary>
    Refused = 3,

    /// <summary>Source to target: a batch of pages of one memslot (see <see cref="PageBatchWriter"/>).</summary>
    Pages = 4,

    /// <summary>Source to target: a pre-copy round ended (u32 round number).</summary>
    RoundEnd = 5,

    /// <summary>Source to target, after the source paused and sent its last pages: the vCPU, platform and device states.</summary>
    State = 6,

    /// <summary>Target to source: the machine is built from everything received and waits for <see cref="Go"/>.</summary>
    Ready = 7,

    /// <summary>Source to target: switch over; the source will not run the VM again, the target runs it.</summary>
    Go = 8,

    /// <summary>Source to target: the migration is cancelled (reason in UTF-8); the source keeps running.</summary>
    Abort = 9,
}
