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

    [Fact]
    public void Ioctl_numbers_and_constants_match_linux_vfio_h()
    {
        // Values of the installed <linux/vfio.h>: _IO(';', 100 + n).
        Assert.Equal(0x3b64UL, VfioIoctls.GetApiVersion);
        Assert.Equal(0x3b65UL, VfioIoctls.CheckExtension);
        Assert.Equal(0x3b66UL, VfioIoctls.SetIommu);
        Assert.Equal(0x3b67UL, VfioIoctls.GroupGetStatus);
        Assert.Equal(0x3b68UL, VfioIoctls.GroupSetContainer);
        Assert.Equal(0x3b69UL, VfioIoctls.GroupUnsetContainer);
        Assert.Equal((1UL, 3UL, 4UL), (VfioIoctls.Type1Iommu, VfioIoctls.Type1v2Iommu, VfioIoctls.DmaCcIommu));
        Assert.Equal((1u, 2u), (VfioIoctls.GroupFlagViable, VfioIoctls.GroupFlagContainerSet));
        Assert.Equal(8, System.Runtime.CompilerServices.Unsafe.SizeOf<VfioGroupStatus>());
    }
}
