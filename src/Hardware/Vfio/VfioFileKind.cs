namespace Actorvisor.Hardware.Vfio;

/// <summary>What kind of file a descriptor is, as far as the KVM-VFIO device is concerned (vfio_file_is_valid).</summary>
public enum VfioFileKind
{
    /// <summary>Not a VFIO file at all: KVM_DEV_VFIO_FILE_ADD refuses it (EINVAL).</summary>
    NotVfio,
    /// <summary>The VFIO container /dev/vfio/vfio: a VFIO file, but not one KVM accepts (EINVAL).</summary>
    Container,
    /// <summary>A VFIO group, /dev/vfio/N: accepted.</summary>
    Group,
    /// <summary>A VFIO device character device, /dev/vfio/devices/vfioN (Linux 6.6+): accepted.</summary>
    Device,
}
