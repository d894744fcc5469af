namespace Actorvisor.Host.Scenarios.Nodes;

/// <summary>One VFIO file attached to a VM.</summary>
/// <param name="Name">The path it was attached by.</param>
/// <param name="Description">What the file is (e.g. "VFIO group 12").</param>
/// <param name="EnforcedCoherent">Whether its DMA is cache coherent.</param>
public sealed record VfioFileState(string Name, string Description, bool EnforcedCoherent);
