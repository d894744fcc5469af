namespace Actorvisor.Host.Scenarios.Language;

/// <summary>
/// What each node kind can do today, so that a scenario using something not built yet is rejected before it
/// runs, with the reason, instead of failing half-way.
/// </summary>
public static class NodeKindSupport
{
    /// <summary>"in-process" or "cluster".</summary>
    public static string YamlName(this NodeKind kind) => kind == NodeKind.InProcess ? "in-process" : "cluster";

    /// <summary>Every kind by its YAML name.</summary>
    public static IReadOnlyDictionary<string, NodeKind> ByName { get; } = Enum.GetValues<NodeKind>().ToDictionary(k => k.YamlName());

    /// <summary>Null if nodes of <paramref name="kind"/> can run; else why not.</summary>
    public static string? Unavailable(NodeKind kind) => kind switch
    {
        NodeKind.Cluster => "node kind 'cluster' is not supported yet (it comes with the cluster daemon and its remote API)",
        _ => null,
    };

    /// <summary>Null if <paramref name="fault"/> can be injected on a node of <paramref name="kind"/>; else why not.</summary>
    public static string? Unsupported(NodeKind kind, FaultKind fault) => fault switch
    {
        FaultKind.CrashDevice or FaultKind.TripleFault => null,
        FaultKind.SlowStore or FaultKind.FailingStore =>
            $"not supported yet by node kind '{kind.YamlName()}' (backing-store faults need lazy guest memory served through async page faults)",
        FaultKind.KillNode => $"not supported yet by node kind '{kind.YamlName()}' (killing a node needs the multi-process cluster)",
        _ => $"unknown fault {fault}",
    };
}
