using Actorvisor.Hardware.Native;

namespace Actorvisor.Hardware.Tests.Native;

/// <summary>
/// The shared _IOC encoding on its own. The per-subsystem layout tests (KVM, userfaultfd, VFIO) check the
/// numbers built with it against the kernel's; these cover the bit fields and the range checks.
/// </summary>
public sealed class IoctlNumberTests
{
    [Fact]
    public void Fields_land_in_the_kernels_bit_positions()
    {
        // _IOC(_IOC_READ|_IOC_WRITE, 0xAE, 0x05, 8) = 0xc008ae05 (KVM_GET_SUPPORTED_CPUID in linux/kvm.h).
        Assert.Equal(0xc008ae05UL, IoctlNumber.Ioc(IoctlNumber.DirRead | IoctlNumber.DirWrite, 0xAE, 0x05, 8));
        Assert.Equal(0x3b64UL, IoctlNumber.Io(';', 100));
        Assert.Equal(0x8010aa01UL, IoctlNumber.Ior<Int128>(0xAA, 0x01));
        Assert.Equal(0x4008ae48UL, IoctlNumber.Iow<ulong>(0xAE, 0x48));
        Assert.Equal(0xc004ae01UL, IoctlNumber.Iowr<uint>(0xAE, 0x01));
        Assert.Equal(0x4004ae8bUL, IoctlNumber.Iow(0xAE, 0x8b, 4));
    }

    [Theory]
    [InlineData(4u, 0u, 0u, 0u, "dir")]
    [InlineData(0u, 0x100u, 0u, 0u, "type")]
    [InlineData(0u, 0u, 0x100u, 0u, "nr")]
    [InlineData(1u, 0xAEu, 0u, 1u << 14, "size")]
    public void Field_wider_than_its_bit_field_is_refused(uint dir, uint type, uint nr, uint size, string field)
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => IoctlNumber.Ioc(dir, type, nr, size));
        Assert.Equal(field, e.ParamName);
    }
}
