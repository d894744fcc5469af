using Actorvisor.Host.Scenarios.Language;

namespace Actorvisor.Host.Scenarios.Nodes;

/// <summary>
/// Starts every node kind: in-process nodes through <paramref name="inProcess"/>, and the cluster nodes of a scenario
/// together as one local cluster of `actorvisor node` processes (<see cref="ScenarioCluster"/>), whose VMs run on
/// <paramref name="clusterAccelerator"/> (software, kvm or auto).
/// </summary>
public sealed class ScenarioNodeFactory(InProcessNodeFactory inProcess, string clusterAccelerator = "software") : INodeFactory
{
    /// <inheritdoc />
    public async Task<IScenarioNode> StartAsync(NodeDeclaration node, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(node);
        return node.Kind == NodeKind.InProcess
            ? await inProcess.StartAsync(node, cancellationToken).ConfigureAwait(false)
            : (await StartClusterAsync([node], cancellationToken).ConfigureAwait(false))[0];
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<IScenarioNode>> StartAllAsync(IReadOnlyList<NodeDeclaration> nodes, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(nodes);
        var started = new Dictionary<string, IScenarioNode>();
        try
        {
            foreach (var node in nodes.Where(n => n.Kind == NodeKind.InProcess))
                started[node.Name] = await inProcess.StartAsync(node, cancellationToken).ConfigureAwait(false);
            var cluster = nodes.Where(n => n.Kind == NodeKind.Cluster).ToList();
            if (cluster.Count > 0)
                foreach (var node in await StartClusterAsync(cluster, cancellationToken).ConfigureAwait(false))
                    started[node.Declaration.Name] = node;
        }
        catch
        {
            foreach (var node in started.Values) await node.DisposeAsync().ConfigureAwait(false);
            throw;
        }
        return [.. nodes.Select(n => started[n.Name])];
    }

    // One cluster for these nodes, stopped when the last of them is disposed.
    private async Task<IReadOnlyList<IScenarioNode>> StartClusterAsync(IReadOnlyList<NodeDeclaration> nodes, CancellationToken cancellationToken)
    {
        var cluster = await ScenarioCluster.StartAsync(nodes, clusterAccelerator, cancellationToken).ConfigureAwait(false);
        int live = nodes.Count;
        async ValueTask Release()
        {
            if (Interlocked.Decrement(ref live) == 0) await cluster.DisposeAsync().ConfigureAwait(false);
        }
        return [.. nodes.Select(n => new ClusterNode(n, cluster, Release))];
    }
}
