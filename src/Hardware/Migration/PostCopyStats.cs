namespace Actorvisor.Hardware.Migration;

/// <summary>
/// The post-copy phase of a migration as the source measured it: from its go-ahead to the target's report that every
/// page is present.
/// </summary>
/// <param name="MissingPages">Pages of memslot 0 the target lacked at the switchover (never sent, or stale and discarded).</param>
/// <param name="PagesPushed">Of those, pages the source pushed in the background.</param>
/// <param name="PagesRequested">Of those, pages sent because the target asked for them (a remote fault, or its readahead).</param>
/// <param name="Requests">Page requests received, including ones for pages already on their way.</param>
/// <param name="WireBytes">Bytes the source put on the stream after the go-ahead.</param>
/// <param name="Duration">From the go-ahead to the target's completion.</param>
public sealed record PostCopyStats(long MissingPages, long PagesPushed, long PagesRequested, long Requests, long WireBytes, TimeSpan Duration);
