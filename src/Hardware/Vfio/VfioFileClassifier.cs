namespace Actorvisor.Hardware.Vfio;

/// <summary>
/// Decides whether a file is a VFIO group or device file, as vfio_file_is_valid() does in the kernel, from what
/// user space can see: statx says it is a character device and which major:minor it refers to, /proc/devices
/// says which driver owns that major.
/// </summary>
public static class VfioFileClassifier
{
    /// <summary>The misc character major (include/linux/major.h MISC_MAJOR).</summary>
    public const uint MiscMajor = 10;

    /// <summary>The misc minor of the VFIO container /dev/vfio/vfio (include/linux/miscdevice.h VFIO_MINOR).</summary>
    public const uint VfioContainerMinor = 196;

    /// <summary>Classifies a file with status <paramref name="status"/> against the majors in <paramref name="devices"/>.</summary>
    public static VfioFileClassification Classify(FileStatus status, ProcDevices devices)
    {
        ArgumentNullException.ThrowIfNull(devices);
        if (!status.IsCharacterDevice)
            return new(VfioFileKind.NotVfio, $"{status.TypeName}, not a character device");
        var node = $"character device {status.RdevMajor}:{status.RdevMinor}";
        if (status.RdevMajor == MiscMajor && status.RdevMinor == VfioContainerMinor)
            return new(VfioFileKind.Container, $"the VFIO container (/dev/vfio/vfio, {node}); KVM takes VFIO groups or device files, not the container");
        var drivers = devices.CharacterDrivers(status.RdevMajor);
        if (drivers.Contains(ProcDevices.VfioGroupDriver, StringComparer.Ordinal))
            return new(VfioFileKind.Group, $"VFIO group ({node})");
        if (drivers.Contains(ProcDevices.VfioDeviceDriver, StringComparer.Ordinal))
            return new(VfioFileKind.Device, $"VFIO device file ({node})");
        var owner = drivers.Count > 0 ? $"driver {string.Join("/", drivers)}" : "no driver listed in /proc/devices";
        return new(VfioFileKind.NotVfio, $"{node} ({owner}), not a VFIO group or device");
    }
}
