using Actorvisor.Hardware.Native;
using Actorvisor.Hardware.Vfio;
using Tmds.Linux;

namespace Actorvisor.Hardware.Tests.Vfio;

/// <summary>The production classifier (vfio_file_is_valid from user space) against real files, and its rules.</summary>
public sealed class VfioFileClassifierTests
{
    private const string ProcDevicesWithVfio = """
        Character devices:
          1 mem
          4 /dev/vc/0
          4 tty
         10 misc
        235 vfio
        511 vfio-dev

        Block devices:
        235 sd
        """;

    [Fact]
    public void Dev_null_is_a_character_device_but_not_vfio()
    {
        using var devNull = Sys.Open("/dev/null", LibC.O_RDWR);
        var c = VfioFileInspector.Instance.Classify(devNull);
        Assert.Equal(VfioFileKind.NotVfio, c.Kind);
        Assert.False(c.IsValidForKvm);
        Assert.Equal("character device 1:3 (driver mem), not a VFIO group or device", c.Description);
    }

    [Fact]
    public void Regular_files_memfds_directories_and_pipes_are_not_vfio()
    {
        var path = Path.GetTempFileName();
        try
        {
            using var regular = Sys.Open(path, LibC.O_RDWR);
            Assert.Equal(new VfioFileClassification(VfioFileKind.NotVfio, "regular file, not a character device"), VfioFileInspector.Instance.Classify(regular));
        }
        finally { File.Delete(path); }

        using var memfd = Sys.MemfdCreate("not-vfio");
        Assert.Equal(VfioFileKind.NotVfio, VfioFileInspector.Instance.Classify(memfd).Kind);

        using var dir = Sys.Open("/tmp", LibC.O_RDONLY | LibC.O_DIRECTORY);
        Assert.Equal("directory, not a character device", VfioFileInspector.Instance.Classify(dir).Description);
    }

    [Fact]
    public void Majors_registered_as_vfio_and_vfio_dev_are_groups_and_device_files()
    {
        var devices = ProcDevices.Parse(ProcDevicesWithVfio);
        Assert.Equal(235u, devices.CharacterMajor(ProcDevices.VfioGroupDriver));
        Assert.Equal(511u, devices.CharacterMajor(ProcDevices.VfioDeviceDriver));
        Assert.Equal(["/dev/vc/0", "tty"], devices.CharacterDrivers(4));

        var group = VfioFileClassifier.Classify(CharDevice(235, 0), devices);
        Assert.Equal(VfioFileKind.Group, group.Kind);
        Assert.True(group.IsValidForKvm);
        Assert.Equal(VfioFileKind.Device, VfioFileClassifier.Classify(CharDevice(511, 2), devices).Kind);

        // The container is VFIO's, but KVM refuses it: only groups and device files are valid.
        var container = VfioFileClassifier.Classify(CharDevice(10, 196), devices);
        Assert.Equal(VfioFileKind.Container, container.Kind);
        Assert.False(container.IsValidForKvm);
        Assert.Contains("/dev/vfio/vfio", container.Description);

        // Another misc device, and a block device whose major number happens to equal vfio's.
        Assert.Equal(VfioFileKind.NotVfio, VfioFileClassifier.Classify(CharDevice(10, 232), devices).Kind);
        Assert.Equal(VfioFileKind.NotVfio, VfioFileClassifier.Classify(new FileStatus(0x6000 | 0x1b0, 0, 5, 7, 235, 0), devices).Kind);
    }

    [Fact]
    public void Without_the_vfio_module_no_major_is_vfio()
    {
        var devices = ProcDevices.Parse(File.ReadAllText("/proc/devices"));
        Assert.Contains("mem", devices.CharacterDrivers(1));
        if (devices.CharacterMajor(ProcDevices.VfioGroupDriver) is null)
            Assert.Equal(VfioFileKind.NotVfio, VfioFileClassifier.Classify(CharDevice(235, 0), devices).Kind);
    }

    [Fact]
    public void Stat_of_a_path_and_of_its_open_file_agree()
    {
        using var devNull = Sys.Open("/dev/null", LibC.O_RDONLY);
        var byFd = FileStatus.Of(devNull);
        var byPath = FileStatus.OfPath("/dev/null");
        Assert.True(byFd.IsSameInode(byPath));
        Assert.True(byFd.IsCharacterDevice);
        Assert.Equal((1u, 3u), (byFd.RdevMajor, byFd.RdevMinor));
        var e = Assert.Throws<SyscallException>(() => FileStatus.OfPath("/nonexistent/vfio/7"));
        Assert.Equal(Errnos.ENOENT, e.Errno);
    }

    private static FileStatus CharDevice(uint major, uint minor) => new(0x2000 | 0x1b0, 0, 5, 42, major, minor);
}
