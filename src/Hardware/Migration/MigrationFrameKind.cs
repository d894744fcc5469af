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

    /// <summary>
    /// Source to target, post-copy: pages of memslot 0 whose copy on the target is stale (written since they were sent):
    /// u32 slot, u32 count, then count u64 page indices. The target drops them; they come again after the switchover.
    /// Sent in discard rounds while the VM still runs on the source (each ended by <see cref="DiscardRoundEnd"/>), and
    /// for the last stale pages after the pause, before the state.
    /// </summary>
    Discard = 10,

    /// <summary>Source to target: switch over by post-copy; the target runs now and asks for the pages it lacks.</summary>
    GoPostCopy = 11,

    /// <summary>Target to source, post-copy: the guest needs a page it lacks (u32 slot, u64 page index).</summary>
    PageRequest = 12,

    /// <summary>Source to target, post-copy: every page the target lacked has been sent.</summary>
    PostCopyEnd = 13,

    /// <summary>Target to source, post-copy: every page is present; the source's copy may end.</summary>
    Complete = 14,

    /// <summary>
    /// Target to source: the go-ahead arrived and the target runs the VM from now on. Until the source reads it, it does
    /// not know whether its go-ahead did (a stream that broke after it sent it leaves that open).
    /// </summary>
    Committed = 15,

    /// <summary>
    /// Target to source: a <see cref="RoundEnd"/> was read and everything before it applied (pages written, discards
    /// done); the body is a <see cref="RoundAcknowledgement"/>. The source measures the stream by these, not by what it
    /// wrote into socket buffers.
    /// </summary>
    RoundApplied = 16,

    /// <summary>
    /// Source to target, post-copy, while the VM still runs on the source: the <see cref="Discard"/> frames of a discard
    /// round are all sent (u32 round number); the target answers <see cref="RoundApplied"/> once it dropped them.
    /// </summary>
    DiscardRoundEnd = 17,
}
