namespace Actorvisor.Hardware.Vfio;

/// <summary>The verdict on one file: its kind and, in words, what it is (for errors a person can act on).</summary>
/// <param name="Kind">Group, device, container or not VFIO.</param>
/// <param name="Description">What the file is, e.g. "VFIO group (character device 243:0)" or "regular file, not a character device".</param>
public sealed record VfioFileClassification(VfioFileKind Kind, string Description)
{
    /// <summary>True for the files the KVM-VFIO device accepts: groups and device files (vfio_file_is_valid).</summary>
    public bool IsValidForKvm => Kind is VfioFileKind.Group or VfioFileKind.Device;
}
