namespace Actorvisor.Hardware.Vfio;

/// <summary>
/// Whether the IOMMU enforces cache coherency for DMA of one VFIO file (vfio_file_enforced_coherent). A VM with
/// any file that does not is a "non-coherent DMA" VM: KVM then honours the guest's memory types and makes
/// WBINVD real (kvm_arch_register_noncoherent_dma).
/// </summary>
/// <param name="EnforcedCoherent">True if DMA of the file's devices always snoops the CPU caches.</param>
/// <param name="Probed">True if the answer came from VFIO itself; false if it is the fallback assumption.</param>
/// <param name="Detail">Where the answer came from, or why it could not be probed.</param>
public sealed record DmaCoherency(bool EnforcedCoherent, bool Probed, string Detail)
{
    /// <summary>
    /// The fallback when VFIO cannot be asked: not coherent. It is the safe side (KVM honours guest memory types,
    /// which costs performance, never correctness) and what the kernel itself answers when the vfio module's
    /// vfio_file_enforced_coherent symbol is not available.
    /// </summary>
    public static DmaCoherency AssumedNonCoherent(string reason) => new(false, false, $"assumed non-coherent: {reason}");
}
