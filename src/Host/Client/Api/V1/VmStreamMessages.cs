using Akka.Actor;

namespace Actorvisor.Host.Api.V1;

// Streams: a client names an actor of its own (Subscriber) that receives the stream's messages straight from
// the cluster. Subscriptions end when the subscriber terminates, when it unsubscribes, or with StreamEnded.

/// <summary>
/// Streams VM <paramref name="Name"/>'s serial output to <paramref name="Subscriber"/> as <see cref="ConsoleOutput"/>:
/// first what the guest has printed so far (the node keeps the last 64 KiB), then live output; a
/// <see cref="StreamEnded"/> follows the VM's end. Replies <see cref="SubscribedReply"/>.
/// </summary>
/// <param name="Name">The VM.</param>
/// <param name="Subscriber">The client's actor that receives the stream.</param>
public sealed record SubscribeConsoleRequest(string Name, IActorRef Subscriber) : ApiRequest;

/// <summary>
/// Sends <paramref name="Subscriber"/> a <see cref="VmEventNotice"/> for every state change of VM
/// <paramref name="Name"/> (of every VM when null), including Lost when its node goes away.
/// Replies <see cref="SubscribedReply"/>.
/// </summary>
/// <param name="Name">The VM; null for every VM.</param>
/// <param name="Subscriber">The client's actor that receives the notices.</param>
public sealed record SubscribeVmEventsRequest(string? Name, IActorRef Subscriber) : ApiRequest;

/// <summary>Ends <paramref name="Subscriber"/>'s event subscriptions (for VM <paramref name="Name"/>, or all). Replies <see cref="SubscribedReply"/> with Active = false.</summary>
/// <param name="Name">The VM; null for all of the subscriber's subscriptions.</param>
/// <param name="Subscriber">The actor whose subscriptions end.</param>
public sealed record UnsubscribeVmEventsRequest(string? Name, IActorRef Subscriber) : ApiRequest;

/// <summary>A subscription was set up (or, for an unsubscribe, removed).</summary>
/// <param name="Vm">The VM, or null for all VMs.</param>
/// <param name="Stream">"console" or "events".</param>
/// <param name="Active">True after a subscribe, false after an unsubscribe.</param>
public sealed record SubscribedReply(string? Vm, string Stream, bool Active) : IApiReply;

/// <summary>Bytes VM <paramref name="Vm"/> wrote to its serial console, in order.</summary>
/// <param name="Vm">The VM.</param>
/// <param name="Bytes">What it wrote (base64 on the wire).</param>
public sealed record ConsoleOutput(string Vm, byte[] Bytes) : IApiMessage;

/// <summary>VM <paramref name="Vm"/> on node <paramref name="Node"/> is now <paramref name="Status"/>.</summary>
/// <param name="Vm">The VM.</param>
/// <param name="Node">Its node.</param>
/// <param name="Status">Its new state.</param>
/// <param name="Detail">The outcome or why it changed (e.g. "node n2 was removed from the cluster").</param>
/// <param name="At">When the cluster learned of it (UTC).</param>
public sealed record VmEventNotice(string Vm, string Node, VmStatus Status, string Detail, DateTimeOffset At) : IApiMessage;

/// <summary>The stream about VM <paramref name="Vm"/> ended (<paramref name="Reason"/>); nothing more will come.</summary>
/// <param name="Vm">The VM.</param>
/// <param name="Reason">Why it ended (e.g. "the VM was destroyed").</param>
public sealed record StreamEnded(string Vm, string Reason) : IApiMessage;
