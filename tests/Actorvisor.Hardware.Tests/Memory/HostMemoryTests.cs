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

    // KVM maps guest RAM with 2 MiB nested pages only where the host address agrees with the guest-physical one modulo
    // 2 MiB; RAM at guest-physical 0 must therefore start on a 2 MiB boundary. Several sizes, so that a lucky mmap
    // placement cannot pass the test.
    [Fact]
    public void Anonymous_guest_ram_of_2_mib_or_more_starts_on_a_2_mib_boundary_and_is_huge_page_eligible()
    {
        bool thpOn = !ThpMode().Contains("[never]");
        var mappings = new List<HostMemory>();
        try
        {
            foreach (ulong size in new ulong[] { 2 << 20, (6 << 20) + 0x3000, 64 << 20, (2 << 20) + 0x1000, 130 << 20 })
            {
                var mem = HostMemory.Allocate(size);
                mappings.Add(mem);
                Assert.True((ulong)mem.Address % HostMemory.HugePageSize == 0, $"{size} bytes at 0x{mem.Address:x}");
                mem.Write<ulong>(size - 8, 0x0123456789abcdef); // the trimmed reservation left the whole range mapped
                Assert.Equal(0x0123456789abcdefUL, mem.Read<ulong>(size - 8));
                if (thpOn) Assert.Equal("1", ThpEligible(mem.Address));
            }
        }
        finally
        {
            foreach (var m in mappings) m.Dispose();
        }
    }

    [Fact]
    public void Memory_without_transparent_huge_pages_is_not_advised_for_them()
    {
        using var mem = HostMemory.Allocate(4 << 20, transparentHugePages: false);
        Assert.True((ulong)mem.Address % HostMemory.HugePageSize == 0);
        if (ThpMode().Contains("[madvise]")) Assert.Equal("0", ThpEligible(mem.Address));
    }

    // The host's THP mode line, the current mode in brackets ("always [madvise] never").
    private static string ThpMode() => File.ReadAllText("/sys/kernel/mm/transparent_hugepage/enabled");

    // The THPeligible field of the /proc/self/smaps entry holding address. An entry starts with "start-end perms ...".
    private static string ThpEligible(nint address)
    {
        const System.Globalization.NumberStyles hex = System.Globalization.NumberStyles.HexNumber;
        bool inside = false;
        foreach (var line in File.ReadLines("/proc/self/smaps"))
        {
            int dash = line.IndexOf('-'), space = line.IndexOf(' ');
            if (dash > 0 && space > dash && ulong.TryParse(line.AsSpan(0, dash), hex, null, out ulong start)
                && ulong.TryParse(line.AsSpan(dash + 1, space - dash - 1), hex, null, out ulong end))
                inside = (ulong)address >= start && (ulong)address < end;
            else if (inside && line.StartsWith("THPeligible:", StringComparison.Ordinal))
                return line["THPeligible:".Length..].Trim();
        }
        throw new InvalidOperationException($"no smaps entry with THPeligible holds 0x{address:x}");
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
