namespace Actorvisor.Host.Scenarios.Nodes;

/// <summary>A node or VM refused a request (invalid transition, duplicate name, capacity, invalid spec); the message says why.</summary>
public sealed class VmRequestRefusedException(string message, Exception? inner = null) : Exception(message, inner);
