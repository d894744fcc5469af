using System.Runtime.InteropServices;

namespace Actorvisor.Hardware.Vfio;

/// <summary>struct vfio_group_status (include/uapi/linux/vfio.h), the argument of VFIO_GROUP_GET_STATUS.</summary>
[StructLayout(LayoutKind.Sequential, Size = 8)]
public struct VfioGroupStatus
{
    /// <summary>in: the size of this struct (8).</summary>
    public uint Argsz;
    /// <summary>out: VFIO_GROUP_FLAGS_*.</summary>
    public uint Flags;
}
