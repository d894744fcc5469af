using Actorvisor.Host.Scenarios.Language;

namespace Actorvisor.Host.Scenarios.Nodes;

/// <summary>How a VM ended, as a scenario sees it.</summary>
/// <param name="Kind">Exited, halted, stopped on request, reset or failed.</param>
/// <param name="ResultCode">The guest's result code when it exited.</param>
/// <param name="Reason">Why it failed.</param>
public sealed record VmEnd(OutcomeKind Kind, int? ResultCode = null, string? Reason = null)
{
    /// <inheritdoc />
    public override string ToString() => Kind switch
    {
        OutcomeKind.Exited => $"exited with result code {ResultCode}",
        OutcomeKind.Halted => "halted (all vCPUs)",
        OutcomeKind.Stopped => "stopped on request",
        OutcomeKind.Reset => "reset",
        _ => $"failed: {Reason}",
    };
}
