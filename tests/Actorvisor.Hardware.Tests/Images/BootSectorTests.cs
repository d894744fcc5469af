using Actorvisor.Hardware.Images;
using Actorvisor.Hardware.Memory;
using Actorvisor.Hardware.X86;

namespace Actorvisor.Hardware.Tests.Images;

public sealed class BootSectorTests : IDisposable
{
    private readonly HostMemory _ram = HostMemory.Allocate(1UL << 20);
    private readonly string _dir = Directory.CreateTempSubdirectory("actorvisor-bootsector-").FullName;

    public void Dispose()
    {
        _ram.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    private static byte[] Sector(int length = 512, bool signed = true)
    {
        var bytes = new byte[length];
        bytes[0] = 0xf4;
        if (signed && length >= 512) { bytes[510] = 0x55; bytes[511] = 0xaa; }
        return bytes;
    }

    private string Write(byte[] bytes)
    {
        var path = Path.Combine(_dir, "boot.bin");
        File.WriteAllBytes(path, bytes);
        return path;
    }

    [Fact]
    public void A_boot_sector_is_loaded_and_entered_at_7c00_with_dl_80_and_the_stack_below_it()
    {
        var image = new BootSectorImageFile(Write(Sector()));
        Assert.Equal(BootMode.Real, image.BootMode);
        var loaded = image.LoadInto(_ram);
        Assert.Equal(0x7c00UL, loaded.Entry);
        Assert.Equal(new LoadedSegment(0x7c00, 512, 512), Assert.Single(loaded.Segments));
        Assert.Equal(0x80UL, loaded.Handoff!.Rdx);
        Assert.Equal(0x7c00UL, loaded.Handoff.StackTop);
        Assert.Equal(new byte[] { 0x55, 0xaa }, _ram.Span(0x7dfe, 2).ToArray());
    }

    [Fact]
    public void Only_the_first_sector_of_a_longer_file_is_loaded()
    {
        var disk = new byte[2048];
        Sector().CopyTo(disk, 0);
        disk[600] = 0x77;
        var loaded = new BootSectorImageFile(Write(disk)).LoadInto(_ram);
        Assert.Equal(512UL, loaded.EndAddress - loaded.LowestAddress);
        Assert.Equal(0, _ram.Span(0x7c00 + 600, 1)[0]);
    }

    [Fact]
    public void A_sector_without_the_signature_is_refused_naming_the_file()
    {
        var path = Write(Sector(signed: false));
        var e = Assert.Throws<ImageLoadException>(() => new BootSectorImageFile(path).LoadInto(_ram));
        Assert.Contains(path, e.Message);
        Assert.Contains("55 aa", e.Message);
    }

    [Fact]
    public void A_truncated_sector_is_refused_naming_the_file()
    {
        var path = Write(Sector(300));
        var e = Assert.Throws<ImageLoadException>(() => new BootSectorImageFile(path).LoadInto(_ram));
        Assert.Contains(path, e.Message);
        Assert.Contains("truncated boot sector", e.Message);
    }

    [Theory]
    [InlineData(0x100UL)]
    [InlineData(0xfe01UL)]
    public void A_load_address_outside_real_mode_memory_is_refused(ulong address) =>
        Assert.Throws<ImageLoadException>(() => new BootSectorImageFile(Write(Sector())).LoadInto(_ram, address));

    [Fact]
    public void A_missing_file_is_refused_naming_it()
    {
        var path = Path.Combine(_dir, "none.bin");
        var e = Assert.Throws<ImageLoadException>(() => new BootSectorImageFile(path).LoadInto(_ram));
        Assert.Contains(path, e.Message);
    }
}
