using Actorvisor.Host.Scenarios.Language;

namespace Actorvisor.Host.Scenarios.Nodes;

/// <summary>Starts the nodes a scenario declares.</summary>
public interface INodeFactory
{
    /// <summary>Starts <paramref name="node"/>; the caller disposes it.</summary>
    Task<IScenarioNode> StartAsync(NodeDeclaration node, CancellationToken cancellationToken);
}
