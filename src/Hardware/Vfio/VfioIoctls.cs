using Actorvisor.Hardware.Native;

namespace Actorvisor.Hardware.Vfio;

/// <summary>The VFIO ioctl numbers and constants used here (include/uapi/linux/vfio.h): _IO(';', 100 + n).</summary>
public static class VfioIoctls
{
    private const uint Type = ';';
    private const uint Base = 100;

    /// <summary>VFIO_GET_API_VERSION on a container: VFIO_API_VERSION (0).</summary>
    public static readonly ulong GetApiVersion = IoctlNumber.Io(Type, Base + 0);
    /// <summary>VFIO_CHECK_EXTENSION on a container: &gt; 0 if the extension (an IOMMU type, VFIO_DMA_CC_IOMMU) is supported.</summary>
    public static readonly ulong CheckExtension = IoctlNumber.Io(Type, Base + 1);
    /// <summary>VFIO_SET_IOMMU on a container: selects the IOMMU model once a group is attached.</summary>
    public static readonly ulong SetIommu = IoctlNumber.Io(Type, Base + 2);
    /// <summary>VFIO_GROUP_GET_STATUS on a group: struct vfio_group_status.</summary>
    public static readonly ulong GroupGetStatus = IoctlNumber.Io(Type, Base + 3);
    /// <summary>VFIO_GROUP_SET_CONTAINER on a group: the argument points to the container fd.</summary>
    public static readonly ulong GroupSetContainer = IoctlNumber.Io(Type, Base + 4);
    /// <summary>VFIO_GROUP_UNSET_CONTAINER on a group.</summary>
    public static readonly ulong GroupUnsetContainer = IoctlNumber.Io(Type, Base + 5);

    /// <summary>VFIO_API_VERSION.</summary>
    public const int ApiVersion = 0;
    /// <summary>VFIO_TYPE1_IOMMU.</summary>
    public const ulong Type1Iommu = 1;
    /// <summary>VFIO_TYPE1v2_IOMMU.</summary>
    public const ulong Type1v2Iommu = 3;
    /// <summary>VFIO_DMA_CC_IOMMU: the extension that says the IOMMU enforces DMA cache coherence.</summary>
    public const ulong DmaCcIommu = 4;

    /// <summary>VFIO_GROUP_FLAGS_VIABLE: every device of the group is bound to a VFIO driver.</summary>
    public const uint GroupFlagViable = 1;
    /// <summary>VFIO_GROUP_FLAGS_CONTAINER_SET: the group is attached to a container.</summary>
    public const uint GroupFlagContainerSet = 2;

    /// <summary>Where the VFIO container device lives.</summary>
    public const string ContainerPath = "/dev/vfio/vfio";
}
