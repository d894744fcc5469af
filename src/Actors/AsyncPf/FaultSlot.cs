namespace Actorvisor.Actors.AsyncPf;

/// <summary>
/// The fault a vCPU thread is on: its page and its token (the vCPU's fault sequence number, the token of
/// <see cref="Hardware.Lazy.PfaultWait"/>). Published by the fault reader thread before "not present" is
/// recorded, so a completion that arrives first can name the fault it completes.
/// </summary>
internal sealed record FaultSlot(ulong Page, long Token);
