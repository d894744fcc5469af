using Actorvisor.Hardware.Native;
using Actorvisor.Hardware.Vfio;
using Tmds.Linux;

namespace Actorvisor.Hardware.Tests.Vfio;

/// <summary>The coherency probe's fallbacks, and the VFIO ABI it relies on.</summary>
public sealed class VfioCoherencyProbeTests
{
    [Fact]
    public void A_file_that_does_not_answer_vfio_group_ioctls_is_assumed_non_coherent()
    {
        using var devNull = Sys.Open("/dev/null", LibC.O_RDWR);
        var c = VfioCoherencyProbe.Probe(devNull, VfioFileKind.Group);
        Assert.False(c.EnforcedCoherent);
        Assert.False(c.Probed);
        Assert.Equal("assumed non-coherent: VFIO_GROUP_GET_STATUS on /dev/null failed with ENOTTY", c.Detail);
    }

    [Fact]
    public void Device_files_and_non_vfio_files_fall_back_with_the_reason()
    {
        using var devNull = Sys.Open("/dev/null", LibC.O_RDWR);
        var device = VfioCoherencyProbe.Probe(devNull, VfioFileKind.Device);
        Assert.False(device.EnforcedCoherent);
        Assert.Contains("device_iommu_capable", device.Detail);
        Assert.False(VfioCoherencyProbe.Probe(devNull, VfioFileKind.NotVfio).Probed);
    }

    private const string VfioHeader = "/usr/include/linux/vfio.h";

    [FileFact(VfioHeader, "install the kernel's UAPI headers (linux-libc-dev) to check the numbers against them")]
    public void Ioctl_numbers_and_constants_match_linux_vfio_h()
    {
        // Each value is worked out from the installed header's own definitions (_IO(VFIO_TYPE, VFIO_BASE + n),
        // (1 << n), plain numbers), so a wrong constant in VfioIoctls fails here.
        var header = LinuxHeader.Read(VfioHeader);
        Assert.Equal(header.Value("VFIO_GET_API_VERSION"), VfioIoctls.GetApiVersion);
        Assert.Equal(header.Value("VFIO_CHECK_EXTENSION"), VfioIoctls.CheckExtension);
        Assert.Equal(header.Value("VFIO_SET_IOMMU"), VfioIoctls.SetIommu);
        Assert.Equal(header.Value("VFIO_GROUP_GET_STATUS"), VfioIoctls.GroupGetStatus);
        Assert.Equal(header.Value("VFIO_GROUP_SET_CONTAINER"), VfioIoctls.GroupSetContainer);
        Assert.Equal(header.Value("VFIO_GROUP_UNSET_CONTAINER"), VfioIoctls.GroupUnsetContainer);
        Assert.Equal((header.Value("VFIO_TYPE1_IOMMU"), header.Value("VFIO_TYPE1v2_IOMMU"), header.Value("VFIO_DMA_CC_IOMMU")),
            ((ulong)VfioIoctls.Type1Iommu, (ulong)VfioIoctls.Type1v2Iommu, (ulong)VfioIoctls.DmaCcIommu));
        Assert.Equal((header.Value("VFIO_GROUP_FLAGS_VIABLE"), header.Value("VFIO_GROUP_FLAGS_CONTAINER_SET")),
            ((ulong)VfioIoctls.GroupFlagViable, (ulong)VfioIoctls.GroupFlagContainerSet));
        // struct vfio_group_status { __u32 argsz; __u32 flags; }
        Assert.Equal(2 * sizeof(uint), System.Runtime.CompilerServices.Unsafe.SizeOf<VfioGroupStatus>());
    }
}
