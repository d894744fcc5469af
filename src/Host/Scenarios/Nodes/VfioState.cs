namespace Actorvisor.Host.Scenarios.Nodes;

/// <summary>A VM's attached VFIO files, in attach order, and its non-coherent DMA state.</summary>
/// <param name="Files">The attached files.</param>
/// <param name="NonCoherentDma">True while some attached file's DMA is not cache coherent.</param>
public sealed record VfioState(IReadOnlyList<VfioFileState> Files, bool NonCoherentDma);
