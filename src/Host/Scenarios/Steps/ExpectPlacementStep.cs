using Actorvisor.Host.Scenarios.Language;
using Actorvisor.Host.Scenarios.Parsing;
using Actorvisor.Host.Scenarios.Running;

namespace Actorvisor.Host.Scenarios.Steps;

/// <summary>
/// <c>expect-placement</c>: where VMs were placed: <see cref="Vms"/> all on <see cref="Node"/>, and/or (with
/// <see cref="Distinct"/>) each on a different node.
/// </summary>
/// <param name="Location">Where it was written.</param>
/// <param name="Vms">The VMs (created).</param>
/// <param name="Node">The node they must be on, or null.</param>
/// <param name="Distinct">True if no two of them may share a node.</param>
public sealed record ExpectPlacementStep(SourceLocation Location, IReadOnlyList<string> Vms, string? Node, bool Distinct) : Step(Location)
{
    /// <inheritdoc />
    public override string Keyword => "expect-placement";

    /// <inheritdoc />
    public override string Describe() =>
        $"expect {string.Join(", ", Vms)} " + (Node is not null ? $"on node {Node}" : "") + (Node is not null && Distinct ? ", " : "") + (Distinct ? "on different nodes" : "");
}

/// <summary>The <c>expect-placement</c> step: checks which node each VM runs on, or that they run on different nodes.</summary>
internal sealed class ExpectPlacementKind() : StepKind<ExpectPlacementStep>("expect-placement")
{
    /// <inheritdoc />
    public override Step? Parse(StepSyntax syntax)
    {
        var f = syntax.Fields("vm", "vms", "node", "distinct");
        if (f is null) return null;
        var vm = f.String("vm");
        var vms = f.StringList("vms");
        var node = f.String("node");
        var distinct = f.Bool("distinct");
        if (f.Has("vm") == f.Has("vms"))
        {
            syntax.Error("expect-placement: give 'vm' (one VM) or 'vms' (a list), not both");
            return null;
        }
        if (!f.Has("node") && distinct != true)
        {
            if (!f.Has("distinct")) syntax.Error("expect-placement: give 'node' (where the VMs must be) and/or 'distinct: true' (each on a different node)");
            return null;
        }
        if (vms is { Count: < 2 } && distinct == true)
        {
            f.Error("vms", "needs at least two VMs for 'distinct'");
            return null;
        }
        IReadOnlyList<string>? names = vm is not null ? [vm] : vms;
        if (names is null || (f.Has("node") && node is null) || (f.Has("distinct") && distinct is null)) return null;
        return new ExpectPlacementStep(syntax.At, names, node, distinct == true);
    }

    /// <inheritdoc />
    protected override void Validate(ExpectPlacementStep p, StepCheck check)
    {
        var scenario = check.Scenario;
        foreach (var name in p.Vms.Where(n => scenario.FindVm(n) is null))
            check.Error(p.Location, $"expect-placement: unknown vm '{name}'{Suggestions.DidYouMean(name, scenario.Vms.Select(v => v.Name))}; declared vms: {check.VmNames}");
        if (p.Node is { } n && scenario.FindNode(n) is null)
            check.Error(p.Location, $"expect-placement: unknown node '{n}'{Suggestions.DidYouMean(n, scenario.Nodes.Select(x => x.Name))}; declared nodes: {check.NodeNames}");
    }

    /// <inheritdoc />
    protected override Task<StepOutcome> RunAsync(ExpectPlacementStep step, ScenarioRun run, StepContext context)
    {
        var placed = step.Vms.Select(n => (Vm: n, Node: run.Vm(n, step).NodeName)).ToList();
        var seen = string.Join(", ", placed.Select(p => $"{p.Vm} on {p.Node}"));
        if (step.Node is { } node && placed.FirstOrDefault(p => p.Node != node) is { Vm: not null } away)
            throw new StepFailedException(new StepFailure($"{away.Vm} is on node {away.Node}, not {node}", $"on node {node}", seen));
        if (step.Distinct && placed.GroupBy(p => p.Node).FirstOrDefault(g => g.Count() > 1) is { } shared)
            throw new StepFailedException(new StepFailure($"{string.Join(" and ", shared.Select(p => p.Vm))} share node {shared.Key}", "each on a different node", seen));
        return Task.FromResult(StepOutcome.Saw(seen));
    }
}
