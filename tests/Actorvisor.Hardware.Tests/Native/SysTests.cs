using Actorvisor.Hardware.Native;
using Tmds.Linux;

namespace Actorvisor.Hardware.Tests.Native;

public class SysTests
{
    [Fact]
    public void Failing_open_names_the_call_the_path_and_the_errno()
    {
        var e = Assert.Throws<SyscallException>(() => Sys.Open("/nonexistent/actorvisor", LibC.O_RDWR));
        Assert.Equal(Errnos.ENOENT, e.Errno);
        Assert.Equal("ENOENT", e.ErrnoName);
        Assert.Contains("open(/nonexistent/actorvisor)", e.Message);
        Assert.Contains("ENOENT (2)", e.Message);
    }

    [Fact]
    public void Failing_ioctl_names_the_ioctl_and_the_descriptor()
    {
        using var fd = Sys.Open("/dev/null", LibC.O_RDWR);
        // KVM_GET_API_VERSION on /dev/null: the kernel answers ENOTTY.
        var e = Assert.Throws<SyscallException>(() => Sys.Ioctl(fd, 0xAE00, 0UL, "KVM_GET_API_VERSION"));
        Assert.Equal(Errnos.ENOTTY, e.Errno);
        Assert.Contains("ioctl(KVM_GET_API_VERSION)", e.Message);
        Assert.Contains("/dev/null", e.Message);
    }

    [Fact]
    public void File_descriptor_is_closed_exactly_once_by_its_owner()
    {
        var fd = Sys.Open("/dev/null", LibC.O_RDONLY);
        int raw = fd.Fd;
        Assert.True(File.Exists($"/proc/self/fd/{raw}"));
        fd.Dispose();
        Assert.True(fd.IsClosed);
        Assert.Throws<ObjectDisposedException>(() => fd.Fd);
    }

    [Fact]
    public void Failing_mmap_throws_with_errno()
    {
        var e = Assert.Throws<SyscallException>(() => Sys.Mmap(0, 0, LibC.PROT_READ, LibC.MAP_PRIVATE | LibC.MAP_ANONYMOUS, -1, 0, "zero-length"));
        Assert.Equal(Errnos.EINVAL, e.Errno);
        Assert.Contains("mmap", e.Message);
    }
}
