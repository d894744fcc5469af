namespace Actorvisor.Host.Scenarios.Language;

/// <summary>
/// One parsed and validated scenario file: the nodes and VMs it declares and the steps it runs, in order.
/// Nothing here has run yet; the scenario runner runs it.
/// </summary>
public sealed record Scenario
{
    /// <summary>The default limit for the whole scenario.</summary>
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromMinutes(2);

    /// <summary>The default limit for one step (a step may set its own).</summary>
    public static readonly TimeSpan DefaultStepTimeout = TimeSpan.FromSeconds(15);

    /// <summary>The scenario's name (defaults to the file name without extension).</summary>
    public required string Name { get; init; }

    /// <summary>Where files the scenario names (expect-rejected) are looked up: the scenario file's folder.</summary>
    public required string Folder { get; init; }

    /// <summary>What the scenario shows, for people reading reports.</summary>
    public string Description { get; init; } = "";

    /// <summary>The file it was read from.</summary>
    public required string File { get; init; }

    /// <summary>Limit for the whole run, teardown excluded.</summary>
    public TimeSpan Timeout { get; init; } = DefaultTimeout;

    /// <summary>Limit for each step that does not set its own <c>timeout</c>.</summary>
    public TimeSpan StepTimeout { get; init; } = DefaultStepTimeout;

    /// <summary>The nodes; one in-process node called "local" when the file declares none.</summary>
    public required IReadOnlyList<NodeDeclaration> Nodes { get; init; }

    /// <summary>The VMs the steps may create, by declaration order.</summary>
    public required IReadOnlyList<VmDeclaration> Vms { get; init; }

    /// <summary>The steps, run one after the other.</summary>
    public required IReadOnlyList<Step> Steps { get; init; }

    /// <summary>The VM declared as <paramref name="name"/>, or null.</summary>
    public VmDeclaration? FindVm(string name) => Vms.FirstOrDefault(v => v.Name == name);

    /// <summary>The node declared as <paramref name="name"/>, or null.</summary>
    public NodeDeclaration? FindNode(string name) => Nodes.FirstOrDefault(n => n.Name == name);
}
