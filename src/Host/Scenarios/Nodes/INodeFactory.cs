using Actorvisor.Host.Scenarios.Language;

namespace Actorvisor.Host.Scenarios.Nodes;

/// <summary>Starts the nodes a scenario declares.</summary>
public interface INodeFactory
{
    /// <summary>Starts <paramref name="node"/>; the caller disposes it.</summary>
    Task<IScenarioNode> StartAsync(NodeDeclaration node, CancellationToken cancellationToken);

    /// <summary>
    /// Starts every node of a scenario (nodes that belong together, such as the members of one cluster, at once);
    /// the caller disposes them. By default one after the other with <see cref="StartAsync"/>.
    /// </summary>
    async Task<IReadOnlyList<IScenarioNode>> StartAllAsync(IReadOnlyList<NodeDeclaration> nodes, CancellationToken cancellationToken)
    {
        var started = new List<IScenarioNode>();
        try
        {
            foreach (var node in nodes) started.Add(await StartAsync(node, cancellationToken).ConfigureAwait(false));
            return started;
        }
        catch
        {
            foreach (var node in started) await node.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }
}
