namespace Actorvisor.Host.Api.V1;

/// <summary>
/// Console input: <paramref name="Text"/> (sent as UTF-8, control characters included, e.g. "\n" or Ctrl-C) for VM
/// <paramref name="Name"/>'s serial console to receive. At most <see cref="ApiValidator.MaxConsoleInputBytes"/> bytes.
/// Replies <see cref="ConsoleInputReply"/>. Not repeatable: sent twice, the guest reads the text twice.
/// </summary>
/// <param name="Name">The VM.</param>
/// <param name="Text">The characters to type.</param>
public sealed record SendConsoleInputRequest(string Name, string Text) : ApiRequest;

/// <summary>
/// The reply to <see cref="SendConsoleInputRequest"/>: VM <paramref name="Name"/>'s UART queued <paramref name="AcceptedBytes"/>
/// of the <paramref name="SentBytes"/> sent (fewer when its receive queue was full or the VM has no UART).
/// </summary>
/// <param name="Name">The VM.</param>
/// <param name="SentBytes">The UTF-8 bytes the request carried.</param>
/// <param name="AcceptedBytes">The bytes the VM's UART queued.</param>
public sealed record ConsoleInputReply(string Name, int SentBytes, int AcceptedBytes) : IApiReply;
