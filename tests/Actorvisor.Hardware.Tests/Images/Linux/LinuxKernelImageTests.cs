using System.Buffers.Binary;
using Actorvisor.Hardware.Images;
using Actorvisor.Hardware.Images.Linux;
using Actorvisor.Hardware.Memory;
using Actorvisor.Hardware.X86;

namespace Actorvisor.Hardware.Tests.Images.Linux;

public sealed class LinuxKernelImageTests : IDisposable
{
    private const ulong RamBytes = 64UL << 20;
    private readonly HostMemory _ram = HostMemory.Allocate(RamBytes);
    private readonly string _dir = Directory.CreateTempSubdirectory("actorvisor-bzimage-").FullName;

    public void Dispose()
    {
        _ram.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    private string Write(string name, byte[] bytes)
    {
        var path = Path.Combine(_dir, name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    [Fact]
    public void The_kernel_goes_to_pref_address_and_the_entry_is_its_64_bit_entry_with_rsi_at_boot_params()
    {
        var bz = new TestBzImage();
        var image = new LinuxKernelImage(Write("bzImage", bz.Build()), commandLine: "console=ttyS0");
        Assert.Equal(GuestPlatform.Pc, ((IBootableImage)image).Platform);
        Assert.Equal(BootMode.Long, image.BootMode);

        var loaded = image.LoadInto(_ram);

        Assert.Equal(0x100_0200UL, loaded.Entry);
        Assert.Equal(0x8000UL, loaded.Handoff?.Rsi);
        Assert.Equal(bz.Kernel, _ram.Span(0x100_0000, bz.Kernel.Length).ToArray());
        Assert.Equal(new LoadedSegment(0x100_0000, 0x100, 0x4_0000), loaded.Segments[0]);
        Assert.Equal("console=ttyS0\0"u8.ToArray(), _ram.Span(0x9000, 14).ToArray());
    }

    [Fact]
    public void Boot_params_carry_the_copied_header_the_loader_fields_and_the_e820_map_byte_by_byte()
    {
        var bz = new TestBzImage();
        var file = bz.Build();
        var initrd = Enumerable.Range(0, 0x1800).Select(i => (byte)i).ToArray();
        var image = new LinuxKernelImage(Write("bzImage", file), Write("initrd", initrd), "console=ttyS0 pci=off");

        image.LoadInto(_ram);
        var zp = _ram.Span(0x8000, 0x1000).ToArray();

        // The setup header from 0x1f1 to its end (0x268), as in the file, except the fields the loader writes.
        var expectedHeader = file.AsSpan(0x1f1, 0x268 - 0x1f1).ToArray();
        expectedHeader[0x210 - 0x1f1] = 0xff; // type_of_loader: undefined
        BinaryPrimitives.WriteUInt32LittleEndian(expectedHeader.AsSpan(0x218 - 0x1f1), 0x3ffe000); // ramdisk_image
        BinaryPrimitives.WriteUInt32LittleEndian(expectedHeader.AsSpan(0x21c - 0x1f1), 0x1800); // ramdisk_size
        BinaryPrimitives.WriteUInt32LittleEndian(expectedHeader.AsSpan(0x228 - 0x1f1), 0x9000); // cmd_line_ptr
        Assert.Equal(expectedHeader, zp.AsSpan(0x1f1, 0x268 - 0x1f1).ToArray());
        Assert.Equal(new byte[] { 0x48, 0x64, 0x72, 0x53 }, zp.AsSpan(0x202, 4).ToArray()); // "HdrS"

        // e820: 5 entries of (addr u64, size u64, type u32), little-endian.
        Assert.Equal(5, zp[0x1e8]);
        byte[] expectedE820 =
        [
            // [0, 0x9fc00) RAM
            0, 0, 0, 0, 0, 0, 0, 0, /**/ 0x00, 0xfc, 0x09, 0, 0, 0, 0, 0, /**/ 1, 0, 0, 0,
            // [0x9fc00, 0xa0000) reserved: EBDA with the MP table
            0x00, 0xfc, 0x09, 0, 0, 0, 0, 0, /**/ 0x00, 0x04, 0, 0, 0, 0, 0, 0, /**/ 2, 0, 0, 0,
            // [0xe0000, 0xf0000) reserved: the ACPI tables
            0x00, 0x00, 0x0e, 0, 0, 0, 0, 0, /**/ 0x00, 0x00, 0x01, 0, 0, 0, 0, 0, /**/ 2, 0, 0, 0,
            // [0xf0000, 0x100000) reserved: BIOS area
            0x00, 0x00, 0x0f, 0, 0, 0, 0, 0, /**/ 0x00, 0x00, 0x01, 0, 0, 0, 0, 0, /**/ 2, 0, 0, 0,
            // [1 MiB, 64 MiB) RAM
            0x00, 0x00, 0x10, 0, 0, 0, 0, 0, /**/ 0x00, 0x00, 0xf0, 0x03, 0, 0, 0, 0, /**/ 1, 0, 0, 0,
        ];
        Assert.Equal(expectedE820, zp.AsSpan(0x2d0, expectedE820.Length).ToArray());
        // acpi_rsdp_addr (boot protocol 2.14): the RSDP at 0xe0000.
        Assert.Equal(0xe0000UL, BinaryPrimitives.ReadUInt64LittleEndian(zp.AsSpan(0x70)));
        // Nothing else: the rest of the page is zero (no screen_info, no EDD, no 6th e820 entry).
        Assert.All(zp.AsSpan(0x2d0 + expectedE820.Length).ToArray(), b => Assert.Equal(0, b));
        Assert.All(zp.AsSpan(0, 0x70).ToArray(), b => Assert.Equal(0, b));
        Assert.All(zp.AsSpan(0x78, 0x1e8 - 0x78).ToArray(), b => Assert.Equal(0, b));

        // The initrd is at the top of RAM, page aligned.
        Assert.Equal(initrd, _ram.Span(0x3ffe000, initrd.Length).ToArray());
    }

    [Fact]
    public void The_initrd_stays_below_initrd_addr_max()
    {
        var bz = new TestBzImage { InitrdAddressMax = 0x1ff_ffff };
        var image = new LinuxKernelImage(Write("bzImage", bz.Build()), Write("initrd", new byte[0x2345]));
        var loaded = image.LoadInto(_ram);
        // Highest page-aligned start whose end stays at or below 0x2000000.
        Assert.Equal(0x1ffd000UL, loaded.Segments[1].Address);
        Assert.Equal(0x1ffd000U, BinaryPrimitives.ReadUInt32LittleEndian(_ram.Span(0x8000 + 0x218, 4)));
        Assert.Equal(0x2345U, BinaryPrimitives.ReadUInt32LittleEndian(_ram.Span(0x8000 + 0x21c, 4)));
    }

    [Fact]
    public void A_kernel_that_is_not_relocatable_or_does_not_fit_at_pref_address_goes_to_1_MiB()
    {
        var fixedKernel = new LinuxKernelImage(Write("fixed", new TestBzImage { Relocatable = false }.Build()));
        Assert.Equal(0x10_0200UL, fixedKernel.LoadInto(_ram).Entry);
        var big = new LinuxKernelImage(Write("big", new TestBzImage { PreferredAddress = 0x300_0000, InitSize = 0x200_0000 }.Build()));
        Assert.Equal(0x10_0200UL, big.LoadInto(_ram).Entry);
    }

    [Fact]
    public void The_64_bit_boot_structures_come_from_boot_setup_in_long_mode()
    {
        var loaded = new LinuxKernelImage(Write("bzImage", new TestBzImage().Build())).LoadInto(_ram);
        var boot = new BootSetup(BootMode.Long, loaded.Entry);
        boot.WriteTables(_ram);
        // PML4[0] -> PDPT, PDPT[0] -> PD 0, PD 0 entry 8 maps 16 MiB (the kernel) with a 2 MiB page: identity.
        Assert.Equal(GuestLayout.PdptBase | 3, _ram.Read<ulong>(GuestLayout.Pml4Base));
        Assert.Equal(0x100_0000UL | 0x83, _ram.Read<ulong>(GuestLayout.PageDirectoriesBase + 8 * 8));
        // The GDT and page tables do not overlap what the loader wrote.
        Assert.DoesNotContain(loaded.Segments, s => s.Overlaps(0, 0x8000) || s.Overlaps(GuestLayout.Pml4Base, GuestLayout.PageTablesEnd));
    }

    [Fact]
    public void Bad_magic_is_refused_naming_the_file()
    {
        var path = Write("notlinux", new TestBzImage { Magic = 0x12345678 }.Build());
        var e = Assert.Throws<ImageLoadException>(() => new LinuxKernelImage(path).LoadInto(_ram));
        Assert.Equal(path, e.Image);
        Assert.Contains("HdrS", e.Message);
        Assert.Contains(path, e.Message);
    }

    [Fact]
    public void A_truncated_file_is_refused_naming_the_file()
    {
        var shortPath = Write("short", new byte[0x200]);
        var e = Assert.Throws<ImageLoadException>(() => new LinuxKernelImage(shortPath).LoadInto(_ram));
        Assert.Equal(shortPath, e.Image);
        Assert.Contains("truncated", e.Message);

        var cut = Write("cut", new TestBzImage { Truncate = 0x10 }.Build());
        e = Assert.Throws<ImageLoadException>(() => new LinuxKernelImage(cut).LoadInto(_ram));
        Assert.Equal(cut, e.Image);
        Assert.Contains("syssize", e.Message);
    }

    [Fact]
    public void A_protocol_older_than_2_12_is_refused()
    {
        var path = Write("old", new TestBzImage { Version = 0x020b }.Build());
        var e = Assert.Throws<ImageLoadException>(() => new LinuxKernelImage(path).LoadInto(_ram));
        Assert.Contains("2.11 is too old", e.Message);
        Assert.Contains(path, e.Message);
    }

    [Fact]
    public void A_kernel_without_64_bit_entry_or_loaded_low_is_refused()
    {
        var no64 = Write("no64", new TestBzImage { XLoadFlags = 0 }.Build());
        Assert.Contains("XLF_KERNEL_64", Assert.Throws<ImageLoadException>(() => new LinuxKernelImage(no64).LoadInto(_ram)).Message);
        var low = Write("zimage", new TestBzImage { LoadFlags = 0 }.Build());
        Assert.Contains("LOADED_HIGH", Assert.Throws<ImageLoadException>(() => new LinuxKernelImage(low).LoadInto(_ram)).Message);
    }

    [Fact]
    public void An_initrd_too_large_for_the_guest_is_refused_naming_the_initrd()
    {
        var kernel = Write("bzImage", new TestBzImage().Build());
        var initrd = Write("initrd.big", new byte[RamBytes - 0x100_0000]);
        var e = Assert.Throws<ImageLoadException>(() => new LinuxKernelImage(kernel, initrd).LoadInto(_ram));
        Assert.Equal(initrd, e.Image);
        Assert.Contains("guest RAM ends at 0x4000000", e.Message);
    }

    [Fact]
    public void A_kernel_whose_init_size_does_not_fit_is_refused()
    {
        var path = Write("huge", new TestBzImage { Relocatable = false, InitSize = 0x400_0000 }.Build());
        var e = Assert.Throws<ImageLoadException>(() => new LinuxKernelImage(path).LoadInto(_ram));
        Assert.Contains("init_size", e.Message);
        Assert.Contains("guest RAM ends at 0x4000000", e.Message);
    }

    [Fact]
    public void A_kernel_whose_file_holds_more_than_its_init_size_is_loaded_whole()
    {
        // Found by the image-loader fuzz test: a payload longer than both init_size and syssize * 16 (0x10d bytes against
        // 0x100) made a negative length for the clear after it.
        var bz = new TestBzImage { InitSize = 0x10, Kernel = [.. Enumerable.Range(0, 0x10d).Select(i => (byte)i)] };
        var loaded = new LinuxKernelImage(Write("small-init", bz.Build())).LoadInto(_ram);
        Assert.Equal(new LoadedSegment(0x100_0000, 0x10d, 0x10d), loaded.Segments[0]);
        Assert.Equal(bz.Kernel, _ram.Span(0x100_0000, bz.Kernel.Length).ToArray());
    }

    [Fact]
    public void A_command_line_longer_than_cmdline_size_is_refused()
    {
        var path = Write("bzImage", new TestBzImage { CommandLineSize = 8 }.Build());
        var e = Assert.Throws<ImageLoadException>(() => new LinuxKernelImage(path, commandLine: "console=ttyS0").LoadInto(_ram));
        Assert.Contains("at most 8", e.Message);
    }
}
