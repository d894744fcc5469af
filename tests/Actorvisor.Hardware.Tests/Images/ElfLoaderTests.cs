using Actorvisor.Hardware.Images;
using Actorvisor.Hardware.Memory;
using Actorvisor.Hardware.X86;

namespace Actorvisor.Hardware.Tests.Images;

public sealed class ElfLoaderTests : IDisposable
{
    private readonly HostMemory _ram = HostMemory.Allocate(4UL << 20);
    private readonly string _dir = Directory.CreateTempSubdirectory("actorvisor-elf-").FullName;

    public void Dispose()
    {
        _ram.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    private static TestElf TwoSegments() => new TestElf { Entry = 0x100010 }
        .Load(0x100000, [.. Enumerable.Range(1, 32).Select(i => (byte)i)], 32, 0x1000)
        .Load(0x200000, [0xaa, 0xbb, 0xcc, 0xdd], 0x3000, 0x1100);

    [Fact]
    public void Segments_are_copied_to_their_physical_addresses_and_bss_is_zeroed()
    {
        _ram.Span(0x200000, 0x4000).Fill(0xee); // stale data where the bss goes
        var loaded = ElfLoader.Load(_ram, TwoSegments().Build(), "kernel.elf");

        Assert.Equal(0x100010UL, loaded.Entry);
        Assert.Equal(2, loaded.Segments.Count);
        Assert.Equal(new LoadedSegment(0x100000, 32, 32), loaded.Segments[0]);
        Assert.Equal(new LoadedSegment(0x200000, 4, 0x3000), loaded.Segments[1]);
        Assert.Equal(Enumerable.Range(1, 32).Select(i => (byte)i), _ram.Span(0x100000, 32).ToArray());
        Assert.Equal(new byte[] { 0xaa, 0xbb, 0xcc, 0xdd }, _ram.Span(0x200000, 4).ToArray());
        Assert.True(_ram.Span(0x200004, 0x3000 - 4).IndexOfAnyExcept((byte)0) < 0, "bss must be zero");
        Assert.Equal(0xee, _ram.Span(0x203000, 1)[0]); // nothing past p_memsz is touched
    }

    [Fact]
    public void Non_load_program_headers_are_skipped()
    {
        var elf = TwoSegments();
        elf.ProgramHeaders.Insert(0, new TestElf.Phdr(4 /* PT_NOTE */, 0x1000, 0, 0, 4, 4));
        var exe = ElfLoader.Parse(elf.Build(), "x");
        Assert.Equal(2, exe.Segments.Count);
    }

    public static TheoryData<string, Func<TestElf, byte[]>, string> Malformed() => new()
    {
        { "magic", e => [.. "\x7fELG"u8.ToArray(), .. new byte[100]], "not an ELF file" },
        { "empty", e => [], "not an ELF file" },
        { "truncated header", e => e.Build()[..40], "truncated ELF header" },
        { "32-bit", e => { e.Class = 1; return e.Build(); }, "not a 64-bit ELF" },
        { "big-endian", e => { e.Data = 2; return e.Build(); }, "not a little-endian" },
        { "shared object", e => { e.Type = 3; return e.Build(); }, "not an executable" },
        { "i386", e => { e.Machine = 3; return e.Build(); }, "not an x86-64 executable" },
        { "phdr table truncated", e => e.Build()[..100], "truncated program header table" },
        { "small phentsize", e => { e.PhentSize = 32; return e.Build(); }, "e_phentsize" },
        { "segment data past end", e => { e.TotalSize = 0x1010; return e.Build(); }, "runs past the end of the file" },
        { "filesz > memsz", e => { e.ProgramHeaders[0] = e.ProgramHeaders[0] with { MemSize = 8 }; return e.Build(); }, "exceeds p_memsz" },
        { "entry outside", e => { e.Entry = 0x300000; return e.Build(); }, "entry point 0x300000 lies outside" },
        { "no PT_LOAD", e => { e.ProgramHeaders.Clear(); e.ProgramHeaders.Add(new TestElf.Phdr(4, 0, 0, 0, 0, 0)); return e.Build(); }, "no PT_LOAD" },
        { "no program headers", e => { e.ProgramHeaders.Clear(); return e.Build(); }, "no program headers" },
    };

    [Theory]
    [MemberData(nameof(Malformed))]
    public void Malformed_files_are_rejected_with_a_clear_reason(string what, Func<TestElf, byte[]> make, string problem)
    {
        var bytes = make(TwoSegments());
        var e = Assert.Throws<ImageLoadException>(() => ElfLoader.Load(_ram, bytes, $"{what}.elf"));
        Assert.Contains(problem, e.Message);
        Assert.Contains($"{what}.elf", e.Message);
        Assert.Equal($"{what}.elf", e.Image);
    }

    [Fact]
    public void A_segment_beyond_ram_is_rejected_before_anything_is_written()
    {
        var elf = TwoSegments().Load(0x3ff000, [1, 2, 3], 0x2000, 0x1200);
        var e = Assert.Throws<ImageLoadException>(() => ElfLoader.Load(_ram, elf.Build(), "big.elf"));
        Assert.Contains("beyond guest RAM", e.Message);
        Assert.Contains("0x401000", e.Message);
        Assert.Equal(0, _ram.Span(0x100000, 1)[0]);
    }

    [Fact]
    public void Elf_image_file_loads_from_disk_and_refuses_a_load_address()
    {
        var path = Path.Combine(_dir, "guest.elf");
        File.WriteAllBytes(path, TwoSegments().Build());
        var image = new ElfImageFile(path);
        Assert.Equal(BootMode.Long, image.BootMode);
        Assert.Equal(0x100010UL, image.LoadInto(_ram).Entry);
        var e = Assert.Throws<ImageLoadException>(() => image.LoadInto(_ram, 0x8000));
        Assert.Contains(path, e.Message);
        var missing = Assert.Throws<ImageLoadException>(() => new ElfImageFile(Path.Combine(_dir, "nope.elf")).LoadInto(_ram));
        Assert.Contains("does not exist", missing.Message);
        Assert.Contains("nope.elf", missing.Message);
    }
}
