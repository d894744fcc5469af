using Actorvisor.Hardware.Vfio;

namespace Actorvisor.Actors.Vfio;

/// <summary>One VFIO file attached to a VM.</summary>
/// <param name="Name">The path it was opened by, or the name given with its descriptor.</param>
/// <param name="Kind">Group or device file.</param>
/// <param name="Description">What the file is.</param>
/// <param name="EnforcedCoherent">Whether its DMA is cache coherent.</param>
/// <param name="CoherencyProbed">True if VFIO answered; false if non-coherent is the fallback assumption.</param>
/// <param name="CoherencyDetail">Where the coherency answer came from.</param>
public sealed record VfioFileInfo(string Name, VfioFileKind Kind, string Description, bool EnforcedCoherent, bool CoherencyProbed, string CoherencyDetail)
{
    /// <summary>The description of <paramref name="file"/> as the device lists it.</summary>
    public static VfioFileInfo From(KvmVfioFile file)
    {
        ArgumentNullException.ThrowIfNull(file);
        return new(file.Name, file.Classification.Kind, file.Classification.Description,
            file.Coherency.EnforcedCoherent, file.Coherency.Probed, file.Coherency.Detail);
    }
}
