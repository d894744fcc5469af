namespace Actorvisor.Host.Scenarios.Language;

/// <summary>A node the scenario's VMs are placed on.</summary>
/// <param name="Name">Unique within the scenario.</param>
/// <param name="Kind">Where the node runs.</param>
/// <param name="Vcpus">vCPUs the node may hand out in total (default: 4 per host CPU).</param>
/// <param name="MemoryBytes">Guest RAM the node may hand out in total (default: 4 GiB).</param>
/// <param name="Location">Where it was declared.</param>
public sealed record NodeDeclaration(string Name, NodeKind Kind, int? Vcpus, ulong? MemoryBytes, SourceLocation Location)
{
    /// <summary>The name of the node a scenario gets when it declares none.</summary>
    public const string DefaultName = "local";

    /// <summary>The default node's guest RAM capacity.</summary>
    public const ulong DefaultMemoryBytes = 4UL << 30;
}
