using Actorvisor.Host.Scenarios.Language;

namespace Actorvisor.Host.Scenarios.Parsing;

/// <summary>What a step kind's whole-scenario validation sees: the scenario, each valid VM's RAM size, and the step's VM.</summary>
/// <param name="Scenario">The scenario read so far (structure error-free).</param>
/// <param name="Memory">RAM bytes of each VM whose spec is valid, by name.</param>
/// <param name="Context">Where errors are reported.</param>
/// <param name="Vm">The declared VM the step acts on, if it names one.</param>
internal sealed record StepCheck(Scenario Scenario, IReadOnlyDictionary<string, ulong> Memory, ParseContext Context, VmDeclaration? Vm)
{
    /// <summary>Reports <paramref name="message"/> at <paramref name="location"/>.</summary>
    public void Error(SourceLocation location, string message) => Context.Error(location, message);

    /// <summary>The scenario's VM names, comma-separated.</summary>
    public string VmNames => string.Join(", ", Scenario.Vms.Select(v => v.Name));

    /// <summary>The scenario's node names, comma-separated.</summary>
    public string NodeNames => string.Join(", ", Scenario.Nodes.Select(n => n.Name));
}
