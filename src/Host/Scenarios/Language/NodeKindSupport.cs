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

    /// <summary>Null if <paramref name="fault"/> can be injected on a node of <paramref name="kind"/>; else why not.</summary>
    public static string? Unsupported(NodeKind kind, FaultKind fault) => (kind, fault) switch
    {
        (NodeKind.InProcess, FaultKind.CrashDevice or FaultKind.TripleFault or FaultKind.SlowStore or FaultKind.FailingStore) => null,
        (NodeKind.Cluster, FaultKind.KillNode) => null,
        (NodeKind.InProcess, FaultKind.KillNode) => "not supported by node kind 'in-process' (the node is the runner's own process; use nodes of kind cluster)",
        (NodeKind.Cluster, _) => "not supported by node kind 'cluster' (the remote API has no request for it; use an in-process node)",
        _ => $"unknown fault {fault}",
    };

    /// <summary>Null if a VM with lazy memory can run on a node of <paramref name="kind"/>; else why not.</summary>
    public static string? LazyMemoryUnsupported(NodeKind kind) =>
        kind == NodeKind.InProcess ? null : "'lazy-memory' is not supported by node kind 'cluster' (the remote API has no lazy memory; use an in-process node)";
}
