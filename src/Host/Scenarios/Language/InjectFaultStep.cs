namespace Actorvisor.Host.Scenarios.Language;

/// <summary><c>inject</c>: injects a fault into a VM, one of its devices or a node.</summary>
/// <param name="Location">Where it was written.</param>
/// <param name="Fault">What fault.</param>
/// <param name="Vm">The VM (every fault but kill-node).</param>
/// <param name="Device">The device (crash-device).</param>
/// <param name="Node">The node (kill-node).</param>
/// <param name="Delay">For slow-store: how long each read takes.</param>
public sealed record InjectFaultStep(SourceLocation Location, FaultKind Fault, string? Vm, string? Device, string? Node, TimeSpan? Delay) : Step(Location)
{
    /// <inheritdoc />
    public override string Keyword => "inject";

    /// <inheritdoc />
    public override string Describe() => Fault switch
    {
        FaultKind.CrashDevice => $"inject crash-device {Vm}/{Device}",
        FaultKind.KillNode => $"inject kill-node {Node}",
        _ => $"inject {Fault.YamlName()} {Vm}",
    };
}
