namespace Actorvisor.Hardware.Vfio;

/// <summary>One file attached to a KVM-VFIO device, as the device sees it.</summary>
/// <param name="Name">The descriptor's name (its path when opened by path).</param>
/// <param name="Classification">What the file is.</param>
/// <param name="Coherency">Its DMA coherency, as of the last change to the device's file list.</param>
public sealed record KvmVfioFile(string Name, VfioFileClassification Classification, DmaCoherency Coherency);
