using Actorvisor.Hardware.Images;
using Actorvisor.Hardware.Memory;
using Actorvisor.Hardware.Native;
using Actorvisor.Hardware.X86;

namespace Actorvisor.Hardware.Tests.Images;

public sealed class BootableImageFileTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("actorvisor-open-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Elf_files_are_recognised_by_their_magic_and_everything_else_is_flat()
    {
        var elfPath = Path.Combine(_dir, "kernel");
        File.WriteAllBytes(elfPath, new TestElf { Entry = 0x100000 }.Load(0x100000, [0xf4], 1, 0x1000).Build());
        var flatPath = Path.Combine(_dir, "boot.bin");
        File.WriteAllBytes(flatPath, [0x7f, 0x45, 0x4c]); // a truncated magic is not ELF

        var elf = Assert.IsType<ElfImageFile>(BootableImageFile.Open(elfPath));
        Assert.Equal(BootMode.Long, elf.BootMode);
        var flat = Assert.IsType<FlatImageFile>(BootableImageFile.Open(flatPath));
        Assert.Equal(BootMode.Real, flat.BootMode);
        Assert.Equal(BootMode.Protected, BootableImageFile.Open(flatPath, BootMode.Protected, 2).BootMode);
        Assert.Equal(2, BootableImageFile.Open(elfPath, vcpuCount: 2).VcpuCount);
    }

    [Fact]
    public void An_open_confined_file_is_recognised_and_loaded_through_its_descriptor_only()
    {
        File.WriteAllBytes(Path.Combine(_dir, "kernel"), new TestElf { Entry = 0x100000 }.Load(0x100000, [0xf4], 1, 0x1000).Build());
        File.WriteAllBytes(Path.Combine(_dir, "boot.bin"), [0x90, 0xf4]);
        using var root = ConfinedDirectory.Open(_dir);
        using var ram = HostMemory.Allocate(2UL << 20);

        using var elf = Assert.IsType<ElfImageFile>(BootableImageFile.Open(root.OpenFile("kernel")));
        using var flat = Assert.IsType<FlatImageFile>(BootableImageFile.Open(root.OpenFile("boot.bin"), BootMode.Protected));
        // The paths are gone; the images still read the files they were opened on.
        File.Delete(Path.Combine(_dir, "kernel"));
        File.Delete(Path.Combine(_dir, "boot.bin"));
        Assert.Equal(0x100000UL, elf.LoadInto(ram).Entry);
        Assert.Equal(0xf4, ram.Span(0x100000, 1)[0]);
        Assert.Equal(0x8000UL, flat.LoadInto(ram, 0x8000).Entry);
        Assert.Equal(new byte[] { 0x90, 0xf4 }, ram.Span(0x8000, 2).ToArray());
        Assert.Equal(Path.Combine(_dir, "boot.bin"), flat.Name);
    }

    [Fact]
    public void A_missing_file_is_named_in_the_error()
    {
        var path = Path.Combine(_dir, "absent.img");
        var e = Assert.Throws<ImageLoadException>(() => BootableImageFile.Open(path));
        Assert.Equal(path, e.Image);
        Assert.Contains("does not exist", e.Message);
    }
}
