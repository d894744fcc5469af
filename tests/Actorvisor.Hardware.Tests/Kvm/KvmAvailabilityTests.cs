using Actorvisor.Hardware.Kvm;
using Actorvisor.Hardware.Native;

namespace Actorvisor.Hardware.Tests.Kvm;

/// <summary>How KVM reports itself unusable, checked without needing /dev/kvm.</summary>
public sealed class KvmAvailabilityTests
{
    [Fact]
    public void Missing_device_is_unavailable_with_the_path_and_errno_in_the_reason()
    {
        Assert.False(KvmAccelerator.IsAvailable(out var reason, "/nonexistent/kvm"));
        Assert.Contains("/nonexistent/kvm", reason);
        Assert.Contains("ENOENT", reason);
    }

    [Fact]
    public void Device_that_is_not_kvm_is_unavailable_naming_the_ioctl()
    {
        Assert.False(KvmAccelerator.IsAvailable(out var reason, "/dev/null"));
        Assert.Contains("KVM_GET_API_VERSION", reason);
        Assert.Contains("ENOTTY", reason);
    }

    [Fact]
    public void Opening_a_device_that_is_not_kvm_throws_a_syscall_exception_naming_the_ioctl()
    {
        var e = Assert.Throws<SyscallException>(() => KvmFd.Open("/dev/null"));
        Assert.Equal("ioctl(KVM_GET_API_VERSION)", e.Call);
        Assert.Equal(Errnos.ENOTTY, e.Errno);
    }
}
