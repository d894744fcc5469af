namespace Actorvisor.Host.Scenarios.Nodes;

/// <summary>One VFIO file attached to a VM.</summary>
/// <param name="Name">The path it was attached by.</param>
/// <param name="Description">What the file is (e.g. "VFIO group 12").</param>
/// <param name="EnforcedCoherent">Whether its DMA is cache coherent.</param>
public sealed record VfioFileState(string Name, string Description, bool EnforcedCoherent);

/// <summary>A VM's attached VFIO files, in attach order, and its non-coherent DMA state.</summary>
/// <param name="Files">The attached files.</param>
/// <param name="NonCoherentDma">True while some attached file's DMA is not cache coherent.</param>
public sealed record VfioState(IReadOnlyList<VfioFileState> Files, bool NonCoherentDma);
