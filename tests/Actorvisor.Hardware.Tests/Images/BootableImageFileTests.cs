using Actorvisor.Hardware.Images;
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
    public void A_missing_file_is_named_in_the_error()
    {
        var path = Path.Combine(_dir, "absent.img");
        var e = Assert.Throws<ImageLoadException>(() => BootableImageFile.Open(path));
        Assert.Equal(path, e.Image);
        Assert.Contains("does not exist", e.Message);
    }
}
