using Actorvisor.Hardware.Native;

namespace Actorvisor.Hardware.Vfio;

/// <summary>
/// The two questions the KVM-VFIO device asks the VFIO driver about a file (vfio_file_is_valid,
/// vfio_file_enforced_coherent). <see cref="VfioFileInspector"/> answers them for real files; a test may supply
/// its own answers for stand-in files on machines without VFIO devices.
/// </summary>
public interface IVfioFileInspector
{
    /// <summary>Whether <paramref name="file"/> is a VFIO group or device file, and what it is.</summary>
    VfioFileClassification Classify(FileDescriptor file);

    /// <summary>Whether DMA of <paramref name="file"/> (classified as <paramref name="kind"/>) is cache coherent.</summary>
    DmaCoherency ProbeCoherency(FileDescriptor file, VfioFileKind kind);
}
