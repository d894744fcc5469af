using Actorvisor.Hardware.Memory;

namespace Actorvisor.Hardware.Tests.Memory;

public class HostMemoryTests
{
    [Theory]
    [InlineData(HostMemoryBacking.Anonymous)]
    [InlineData(HostMemoryBacking.Memfd)]
    public void Memory_is_zeroed_readable_and_writable(HostMemoryBacking backing)
    {
        using var mem = HostMemory.Allocate(0x4000, backing);
        Assert.Equal(0UL, mem.Read<ulong>(0x3ff8));
        mem.Write<uint>(0x1000, 0xdeadbeef);
        Assert.Equal(0xdeadbeefu, mem.Read<uint>(0x1000));
        Assert.Equal(0xef, mem.Span(0x1000, 1)[0]);
        Assert.Equal(backing == HostMemoryBacking.Memfd, mem.Memfd is not null);
    }

    [Fact]
    public void Access_outside_the_range_is_refused()
    {
        using var mem = HostMemory.Allocate(0x1000);
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => mem.Write<ulong>(0xffc, 1));
        Assert.Contains("outside guest memory", e.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => mem.Span(ulong.MaxValue - 2, 8));
    }

    [Fact]
    public void Memfd_backing_is_shared_with_a_second_mapping_of_the_same_file()
    {
        using var mem = HostMemory.Allocate(0x2000, HostMemoryBacking.Memfd);
        mem.Write<ulong>(0x1008, 0x1122334455667788);
        using var file = new FileStream(new Microsoft.Win32.SafeHandles.SafeFileHandle(mem.Memfd!.DangerousGetHandle(), ownsHandle: false), FileAccess.Read);
        var buf = new byte[8];
        file.Seek(0x1008, SeekOrigin.Begin);
        file.ReadExactly(buf);
        Assert.Equal(0x1122334455667788UL, BitConverter.ToUInt64(buf));
    }

    [Theory]
    [InlineData(0UL, "greater than zero")]
    [InlineData(0x1234UL, "not a multiple of 4 KiB")]
    public void Bad_sizes_are_refused(ulong size, string expected)
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => HostMemory.Allocate(size));
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void Dispose_unmaps_and_later_access_fails()
    {
        var mem = HostMemory.Allocate(0x1000);
        mem.Dispose();
        Assert.True(mem.IsDisposed);
        Assert.Throws<ObjectDisposedException>(() => mem.Read<byte>(0));
        mem.Dispose(); // idempotent
    }
}
