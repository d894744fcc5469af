using Actorvisor.Hardware.Native;
using Actorvisor.Hardware.Vfio;
using Tmds.Linux;

namespace Actorvisor.Hardware.Tests.Vfio;

/// <summary>File identity as the KVM-VFIO device sees it: the struct file, not the path.</summary>
public sealed class OpenFileDescriptionTests
{
    [Fact]
    public void A_duplicate_is_the_same_file_and_a_second_open_is_not()
    {
        using var first = Sys.Open("/dev/null", LibC.O_RDONLY);
        using var dup = OpenFileDescription.Duplicate(first, "dup");
        using var second = Sys.Open("/dev/null", LibC.O_RDONLY);
        Assert.NotEqual(first.Fd, dup.Fd);
        Assert.True(OpenFileDescription.AreSame(first, dup));
        Assert.False(OpenFileDescription.AreSame(first, second));
    }

    [Fact]
    public void A_descriptor_that_is_not_open_is_ebadf()
    {
        using var open = Sys.Open("/dev/null", LibC.O_RDONLY);
        var bogus = new FileDescriptor(1_000_000, "bogus");
        try
        {
            Assert.False(OpenFileDescription.IsOpen(bogus));
            Assert.True(OpenFileDescription.IsOpen(open));
            Assert.Equal(Errnos.EBADF, Assert.Throws<SyscallException>(() => OpenFileDescription.AreSame(open, bogus)).Errno);
            Assert.Equal(Errnos.EBADF, Assert.Throws<SyscallException>(() => OpenFileDescription.Duplicate(bogus, "x")).Errno);
        }
        finally { bogus.SetHandleAsInvalid(); }
    }
}
