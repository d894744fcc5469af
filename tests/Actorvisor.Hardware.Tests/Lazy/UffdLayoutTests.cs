using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Actorvisor.Hardware.Lazy.Uapi;

namespace Actorvisor.Hardware.Tests.Lazy;

/// <summary>
/// The hand-written userfaultfd ABI against the kernel's: the expected numbers were printed by a C program
/// compiled against /usr/include/linux/userfaultfd.h (sizeof, offsetof, and the UFFDIO_* macros).
/// </summary>
public class UffdLayoutTests
{
    [Fact]
    public void Ioctl_numbers_match_the_kernel_header()
    {
        Assert.Equal(0xC018AA3Fu, UffdIoctl.ApiHandshake);
        Assert.Equal(0xC020AA00u, UffdIoctl.Register);
        Assert.Equal(0x8010AA01u, UffdIoctl.Unregister);
        Assert.Equal(0x8010AA02u, UffdIoctl.Wake);
        Assert.Equal(0xC028AA03u, UffdIoctl.Copy);
        Assert.Equal(0xC020AA04u, UffdIoctl.ZeroPage);
        Assert.Equal(0xAA00u, UffdIoctl.DevNew);
    }

    [Fact]
    public void Constants_match_the_kernel_header()
    {
        Assert.Equal(0xAAUL, UffdIoctl.Api);
        Assert.Equal(0x12, UffdIoctl.EventPageFault);
        Assert.Equal(0x100UL, UffdIoctl.FeatureThreadId);
        Assert.Equal(1UL, UffdIoctl.RegisterModeMissing);
        Assert.Equal(1, UffdIoctl.UserModeOnly);
        Assert.Equal(1UL, UffdIoctl.PageFaultFlagWrite);
        Assert.Equal((3, 4, 2), (UffdIoctl.CopyBit, UffdIoctl.ZeroPageBit, UffdIoctl.WakeBit));
    }

    [Theory]
    [InlineData(typeof(UffdioApi), 24)]
    [InlineData(typeof(UffdioRange), 16)]
    [InlineData(typeof(UffdioRegister), 32)]
    [InlineData(typeof(UffdioCopy), 40)]
    [InlineData(typeof(UffdioZeropage), 32)]
    [InlineData(typeof(UffdMsg), 32)]
    public void Struct_sizes_match_the_kernel(Type type, int size)
    {
        Assert.Equal(size, Marshal.SizeOf(type));
        var sizeOf = typeof(Unsafe).GetMethod(nameof(Unsafe.SizeOf))!.MakeGenericMethod(type);
        Assert.Equal(size, (int)sizeOf.Invoke(null, null)!);
    }

    [Theory]
    [InlineData(typeof(UffdioApi), nameof(UffdioApi.Features), 8)]
    [InlineData(typeof(UffdioApi), nameof(UffdioApi.Ioctls), 16)]
    [InlineData(typeof(UffdioRange), nameof(UffdioRange.Len), 8)]
    [InlineData(typeof(UffdioRegister), nameof(UffdioRegister.Mode), 16)]
    [InlineData(typeof(UffdioRegister), nameof(UffdioRegister.Ioctls), 24)]
    [InlineData(typeof(UffdioCopy), nameof(UffdioCopy.Src), 8)]
    [InlineData(typeof(UffdioCopy), nameof(UffdioCopy.Len), 16)]
    [InlineData(typeof(UffdioCopy), nameof(UffdioCopy.Mode), 24)]
    [InlineData(typeof(UffdioCopy), nameof(UffdioCopy.Copy), 32)]
    [InlineData(typeof(UffdioZeropage), nameof(UffdioZeropage.Mode), 16)]
    [InlineData(typeof(UffdioZeropage), nameof(UffdioZeropage.Zeropage), 24)]
    [InlineData(typeof(UffdMsg), nameof(UffdMsg.Event), 0)]
    [InlineData(typeof(UffdMsg), nameof(UffdMsg.PageFaultFlags), 8)]
    [InlineData(typeof(UffdMsg), nameof(UffdMsg.PageFaultAddress), 16)]
    [InlineData(typeof(UffdMsg), nameof(UffdMsg.PageFaultThreadId), 24)]
    public void Field_offsets_match_the_kernel(Type type, string field, int offset)
    {
        Assert.Equal(offset, (int)Marshal.OffsetOf(type, field));
    }

    [Fact]
    public unsafe void A_fault_message_decodes_from_the_kernel_byte_layout()
    {
        // struct uffd_msg as the kernel writes it: event, 7 reserved bytes, flags, address, ptid, 4 bytes of padding.
        var raw = new byte[32];
        raw[0] = 0x12;
        BitConverter.TryWriteBytes(raw.AsSpan(8), 1UL);
        BitConverter.TryWriteBytes(raw.AsSpan(16), 0x7f00_1234_5000UL);
        BitConverter.TryWriteBytes(raw.AsSpan(24), 4242u);
        var msg = MemoryMarshal.Read<UffdMsg>(raw);
        Assert.True(msg.IsPageFault);
        Assert.Equal(1UL, msg.PageFaultFlags);
        Assert.Equal(0x7f00_1234_5000UL, msg.PageFaultAddress);
        Assert.Equal(4242u, msg.PageFaultThreadId);
    }
}
