using System.Buffers.Binary;
using System.Text;
using Actorvisor.Hardware.Guests;
using Actorvisor.Hardware.Images;
using Actorvisor.Hardware.Memory;
using Actorvisor.Hardware.X86;

namespace Actorvisor.Hardware.Tests.Images;

public sealed class MultibootLoaderTests : IDisposable
{
    private const ulong Ram = 32UL << 20;
    private readonly HostMemory _ram = HostMemory.Allocate(Ram);
    private readonly string _dir = Directory.CreateTempSubdirectory("actorvisor-multiboot-").FullName;

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

    private uint U32(ulong address) => _ram.Read<uint>(address);
    private ulong U64(ulong address) => _ram.Read<ulong>(address);

    private string CString(ulong address)
    {
        var bytes = new List<byte>();
        for (ulong a = address; _ram.Read<byte>(a) != 0; a++) bytes.Add(_ram.Read<byte>(a));
        return Encoding.UTF8.GetString([.. bytes]);
    }

    private ImageLoadException Refused(byte[] kernel, IReadOnlyList<MultibootModule>? modules = null)
    {
        var path = Write("kernel.bin", kernel);
        var e = Assert.Throws<ImageLoadException>(() => new MultibootImageFile(path, modules: modules).LoadInto(_ram));
        Assert.Contains(path, e.Message);
        return e;
    }

    [Fact]
    public void The_information_structure_is_filled_field_by_field()
    {
        var kernel = BootProtocolGuests.MultibootInfoReporter();
        var path = Write("kernel.bin", kernel.Bytes.ToArray());
        var mod1 = Write("one.txt", Encoding.ASCII.GetBytes("first module"));
        var mod2 = Write("two.bin", new byte[5000]);
        var image = new MultibootImageFile(path, "console=ttyS0 verbose", [MultibootModule.Parse($"{mod1}=one arg"), MultibootModule.Parse(mod2)]);
        Assert.Equal(BootMode.Protected, image.BootMode);
        var loaded = image.LoadInto(_ram);

        // Handoff: the magic in EAX, the structure's address in EBX; entry from the header's entry_addr.
        Assert.Equal(0x2BADB002UL, loaded.Handoff!.Rax);
        ulong info = loaded.Handoff.Rbx!.Value;
        Assert.Equal(0x8000UL, info); // the low window: the kernel is at 1 MiB
        Assert.Equal(0x100020UL, loaded.Entry);
        Assert.Equal(kernel.Bytes.ToArray(), _ram.Span(0x100000, kernel.Bytes.Length).ToArray());

        Assert.Equal(0x24dU, U32(info + 0));                       // mem, cmdline, mods, mmap, boot loader name
        Assert.Equal(639U, U32(info + 4));                         // mem_lower: KiB below the EBDA
        Assert.Equal((uint)((Ram - 0x100000) / 1024), U32(info + 8)); // mem_upper: KiB from 1 MiB
        Assert.Equal("console=ttyS0 verbose", CString(U32(info + 16)));
        Assert.Equal(2U, U32(info + 20));                          // mods_count

        // Modules: page-aligned after the kernel, in order, with their strings.
        ulong mods = U32(info + 24);
        ulong kernelEnd = 0x100000 + (ulong)kernel.Bytes.Length;
        ulong first = U32(mods), firstEnd = U32(mods + 4);
        Assert.Equal((kernelEnd + 0xfff) & ~0xfffUL, first);
        Assert.Equal(first + 12, firstEnd);
        Assert.Equal("first module", Encoding.ASCII.GetString(_ram.Span(first, 12)));
        Assert.Equal("one arg", CString(U32(mods + 8)));
        Assert.Equal(0U, U32(mods + 12));
        ulong second = U32(mods + 16);
        Assert.Equal((firstEnd + 0xfff) & ~0xfffUL, second);
        Assert.Equal(second + 5000, U32(mods + 20));
        Assert.Equal(mod2, CString(U32(mods + 24)));

        // Memory map: 4 entries of 24 bytes (size field 20), the PC layout.
        Assert.Equal(96U, U32(info + 44));
        ulong mmap = U32(info + 48);
        (ulong Base, ulong Length, uint Type)[] expected =
            [(0, 0x9fc00, 1), (0x9fc00, 0x60400, 2), (0x100000, Ram - 0x100000, 1), (0xc0000000, 0x40000000, 2)];
        for (int i = 0; i < expected.Length; i++)
        {
            ulong e = mmap + (ulong)i * 24;
            Assert.Equal(20U, U32(e));
            Assert.Equal(expected[i], (U64(e + 4), U64(e + 12), U32(e + 20)));
        }
        Assert.Equal("Actorvisor", CString(U32(info + 64)));
        // Fields whose flags are clear stay zero: boot_device, syms, drives, config table, APM, VBE.
        foreach (int offset in new[] { 12, 28, 32, 36, 40, 52, 56, 60, 68, 72 }) Assert.Equal(0U, U32(info + (ulong)offset));

        // The loaded image covers kernel, modules and information, so the machine can check them against its own structures.
        Assert.Equal(4, loaded.Segments.Count);
        Assert.Equal(info, loaded.Segments[^1].Address);
    }

    [Fact]
    public void An_elf32_kernel_is_loaded_at_its_physical_addresses_and_entered_at_its_translated_entry()
    {
        byte[] code = [0xf4, 0xeb, 0xfd, 0x90];
        var loaded = MultibootLoader.Load(_ram, MultibootKernelFile.Elf32(0xc0100000, 0x200000, code, bss: 0x2000, entryOffset: 2), "k.elf", "", []);
        Assert.Equal(0x200002UL, loaded.Entry);
        Assert.Equal(code, _ram.Span(0x200000, 4).ToArray());
        Assert.Equal(new LoadedSegment(0x200000, 4, 0x2004), loaded.Segments[0]);
        Assert.Equal(0x8000UL, loaded.Handoff!.Rbx);
    }

    [Fact]
    public void An_elf64_kernel_with_a_multiboot_header_is_loaded_by_its_program_headers()
    {
        var body = new byte[0x40];
        const uint flags = 3;
        BinaryPrimitives.WriteUInt32LittleEndian(body, MultibootHeader.Magic);
        BinaryPrimitives.WriteUInt32LittleEndian(body.AsSpan(4), flags);
        BinaryPrimitives.WriteUInt32LittleEndian(body.AsSpan(8), unchecked(0u - MultibootHeader.Magic - flags));
        var elf = new TestElf { Entry = 0x300010 }.Load(0x300000, body, 0x40, 0x1000).Build();
        var loaded = MultibootLoader.Load(_ram, elf, "k64.elf", "", []);
        Assert.Equal(0x300010UL, loaded.Entry);
        Assert.Equal(MultibootHeader.Magic, U32(0x300000));
    }

    [Fact]
    public void The_information_moves_above_the_modules_when_the_kernel_occupies_the_low_window()
    {
        var loaded = MultibootLoader.Load(_ram, MultibootKernelFile.Aout(0x9000, [0xf4]), "low.bin", "x", []);
        Assert.Equal(0xa000UL, loaded.Handoff!.Rbx);
        Assert.Equal("x", CString(U32(0xa000 + 16)));
    }

    [Fact]
    public void A_file_without_the_magic_is_refused() =>
        Assert.Contains("not a multiboot kernel", Refused(new byte[9000]).Message);

    [Fact]
    public void A_bad_checksum_is_refused()
    {
        var e = Refused(MultibootKernelFile.Aout(0x100000, [0xf4], checksum: 0x1234));
        Assert.Contains("bad multiboot header checksum", e.Message);
    }

    [Fact]
    public void A_header_cut_off_before_its_address_fields_is_refused()
    {
        var kernel = MultibootKernelFile.Aout(0x100000, [])[..20];
        Assert.Contains("truncated multiboot header", Refused(kernel).Message);
    }

    [Fact]
    public void A_kernel_shorter_than_its_load_end_address_is_refused()
    {
        var kernel = MultibootKernelFile.Aout(0x100000, [0xf4], loadEnd: 0x101000);
        Assert.Contains("truncated kernel", Refused(kernel).Message);
    }

    [Fact]
    public void A_truncated_elf_kernel_is_refused()
    {
        var kernel = MultibootKernelFile.Elf32(0x100000, 0x100000, new byte[64]);
        Assert.Contains("truncated", Refused(kernel[..0x110]).Message);
    }

    [Fact]
    public void A_kernel_over_the_mmio_window_is_refused()
    {
        var e = Refused(MultibootKernelFile.Aout(0xc0001000, [0xf4]));
        Assert.Contains("over the MMIO window", e.Message);
    }

    [Fact]
    public void A_kernel_beyond_guest_ram_is_refused()
    {
        var e = Refused(MultibootKernelFile.Aout(0x4000000, [0xf4]));
        Assert.Contains("beyond guest RAM", e.Message);
    }

    [Fact]
    public void A_bss_running_beyond_guest_ram_is_refused()
    {
        var e = Refused(MultibootKernelFile.Aout(0x100000, [0xf4], bssEnd: 0x4000000));
        Assert.Contains("beyond guest RAM", e.Message);
    }

    [Fact]
    public void A_missing_module_file_is_refused_naming_it()
    {
        var missing = Path.Combine(_dir, "no-such-module");
        var e = Refused(MultibootKernelFile.Aout(0x100000, [0xf4]), [new MultibootModule(missing, "m")]);
        Assert.Contains(missing, e.Message);
        Assert.Contains("does not exist", e.Message);
    }

    [Fact]
    public void Modules_that_do_not_fit_are_refused_and_nothing_is_written()
    {
        var big = Write("big.bin", new byte[(int)Ram]);
        var e = Refused(MultibootKernelFile.Aout(0x100000, [0xf4]), [new MultibootModule(big, "big")]);
        Assert.Contains("module", e.Message);
        Assert.Contains("beyond guest RAM", e.Message);
        Assert.Equal(0U, U32(0x100000)); // the kernel was not written either
    }

    [Fact]
    public void A_video_mode_requirement_is_refused() =>
        Assert.Contains("video mode", Refused(MultibootKernelFile.Aout(0x100000, [0xf4], flags: MultibootKernelFile.AoutFlags | 4)).Message);

    [Fact]
    public void A_load_address_cannot_be_given()
    {
        var path = Write("kernel.bin", MultibootKernelFile.Aout(0x100000, [0xf4]));
        Assert.Throws<ImageLoadException>(() => new MultibootImageFile(path).LoadInto(_ram, 0x200000));
    }

    [Theory]
    [InlineData("initrd.img", "initrd.img", "initrd.img")]
    [InlineData("initrd.img=root=/dev/ram a=b", "initrd.img", "root=/dev/ram a=b")]
    [InlineData("/m/x=", "/m/x", "")]
    public void Module_options_parse_as_file_and_string(string text, string path, string commandLine) =>
        Assert.Equal(new MultibootModule(path, commandLine), MultibootModule.Parse(text));

    [Fact]
    public void A_module_option_without_a_file_is_refused() =>
        Assert.Throws<ArgumentException>(() => MultibootModule.Parse("=x"));
}
