using Actorvisor.Hardware.Native;
using static Tmds.Linux.LibC;

namespace Actorvisor.Hardware.Vfio;

/// <summary>
/// Asks VFIO whether a file's DMA is cache coherent, the user-space counterpart of vfio_file_enforced_coherent().
/// For a group the kernel asks its container: VFIO_CHECK_EXTENSION(VFIO_DMA_CC_IOMMU), answered by the type1
/// IOMMU driver from its domains' IOMMU_CAP_ENFORCE_CACHE_COHERENCY. A container cannot be reached from a group
/// fd, so a viable group without a container is put into a temporary type1 container for the question and taken
/// out again (what QEMU's set-up does before it adds the group to KVM). Everything else falls back to
/// <see cref="DmaCoherency.AssumedNonCoherent"/>: a group already in someone's container, a device file
/// (its coherency is device_iommu_capable(), which has no ioctl), and any failure along the way.
/// </summary>
public static unsafe class VfioCoherencyProbe
{
    /// <summary>The coherency of <paramref name="file"/>, which has been classified as <paramref name="kind"/>.</summary>
    public static DmaCoherency Probe(FileDescriptor file, VfioFileKind kind)
    {
        ArgumentNullException.ThrowIfNull(file);
        return kind switch
        {
            VfioFileKind.Group => ProbeGroup(file),
            VfioFileKind.Device => DmaCoherency.AssumedNonCoherent(
                "a VFIO device file's coherency is its IOMMU's capability (device_iommu_capable), which no VFIO ioctl reports"),
            _ => DmaCoherency.AssumedNonCoherent($"{file.What} is not a VFIO group or device ({kind})"),
        };
    }

    private static DmaCoherency ProbeGroup(FileDescriptor group)
    {
        var status = new VfioGroupStatus { Argsz = (uint)sizeof(VfioGroupStatus) };
        // Safe: the kernel writes at most argsz (8) bytes into the local struct.
        if (Sys.TryIoctl(group, VfioIoctls.GroupGetStatus, &status, out int err) < 0)
            return DmaCoherency.AssumedNonCoherent($"VFIO_GROUP_GET_STATUS on {group.What} failed with {Errnos.Name(err)}");
        if ((status.Flags & VfioIoctls.GroupFlagViable) == 0)
            return DmaCoherency.AssumedNonCoherent($"group {group.What} is not viable (not all of its devices are bound to VFIO drivers)");
        if ((status.Flags & VfioIoctls.GroupFlagContainerSet) != 0)
            return DmaCoherency.AssumedNonCoherent($"group {group.What} is already in a container, which cannot be reached from the group fd");

        FileDescriptor container;
        try { container = Sys.Open(VfioIoctls.ContainerPath, O_RDWR); }
        catch (SyscallException e) { return DmaCoherency.AssumedNonCoherent($"cannot open {VfioIoctls.ContainerPath}: {e.ErrnoName}"); }
        using (container)
        {
            int version = Sys.TryIoctl(container, VfioIoctls.GetApiVersion, null, out err);
            if (version != VfioIoctls.ApiVersion)
                return DmaCoherency.AssumedNonCoherent($"VFIO_GET_API_VERSION answered {version} ({Errnos.Name(err)}), not {VfioIoctls.ApiVersion}");
            int containerFd = container.Fd;
            // Safe: VFIO_GROUP_SET_CONTAINER reads one int (the container fd) from the local.
            if (Sys.TryIoctl(group, VfioIoctls.GroupSetContainer, &containerFd, out err) < 0)
                return DmaCoherency.AssumedNonCoherent($"VFIO_GROUP_SET_CONTAINER on {group.What} failed with {Errnos.Name(err)}");
            try
            {
                ulong iommu = Extension(container, VfioIoctls.Type1v2Iommu) > 0 ? VfioIoctls.Type1v2Iommu
                    : Extension(container, VfioIoctls.Type1Iommu) > 0 ? VfioIoctls.Type1Iommu : 0;
                if (iommu == 0) return DmaCoherency.AssumedNonCoherent("the container offers no type1 IOMMU (is vfio_iommu_type1 loaded?)");
                if (Sys.TryIoctl(container, VfioIoctls.SetIommu, (void*)iommu, out err) < 0)
                    return DmaCoherency.AssumedNonCoherent($"VFIO_SET_IOMMU({iommu}) failed with {Errnos.Name(err)}");
                int coherent = Extension(container, VfioIoctls.DmaCcIommu);
                if (coherent < 0) return DmaCoherency.AssumedNonCoherent("VFIO_CHECK_EXTENSION(VFIO_DMA_CC_IOMMU) failed");
                return new DmaCoherency(coherent > 0, true,
                    $"VFIO_CHECK_EXTENSION(VFIO_DMA_CC_IOMMU) = {coherent} with a type1{(iommu == VfioIoctls.Type1v2Iommu ? "v2" : "")} IOMMU container");
            }
            finally
            {
                Sys.TryIoctl(group, VfioIoctls.GroupUnsetContainer, null, out _);
            }
        }
    }

    private static int Extension(FileDescriptor container, ulong extension) =>
        Sys.TryIoctl(container, VfioIoctls.CheckExtension, (void*)extension, out _);
}
