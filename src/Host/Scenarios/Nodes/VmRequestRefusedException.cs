namespace Actorvisor.Host.Scenarios.Nodes;

/// <summary>A node or VM refused a request (invalid transition, duplicate name, capacity, invalid spec); the message says why.</summary>
/// <param name="message">Why, in the runtime's words.</param>
/// <param name="inner">The runtime's exception, if any.</param>
/// <param name="kind">The refusal's kind in kebab case where the runtime types it (e.g. "not-vfio-file", "not-accepting").</param>
public sealed class VmRequestRefusedException(string message, Exception? inner = null, string? kind = null) : Exception(message, inner)
{
    /// <summary>The refusal's kind in kebab case (e.g. "not-attached"), or null where the runtime gives none.</summary>
    public string? Kind { get; } = kind;
}
