using Actorvisor.Hardware.Guests;
using Actorvisor.Hardware.Images;
using Actorvisor.Hardware.X86;

namespace Actorvisor.Hardware.Tests.Images;

public sealed class ImageFormatDetectorTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("actorvisor-detect-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Write(string name, byte[] bytes)
    {
        var path = Path.Combine(_dir, name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    [Fact]
    public void Each_format_is_told_by_its_bytes()
    {
        Assert.Equal(ImageFormat.BootSector, ImageFormatDetector.Detect(Write("boot.bin", BootProtocolGuests.BootSectorHello().Bytes.ToArray())));
        Assert.Equal(ImageFormat.Multiboot, ImageFormatDetector.Detect(Write("mb.bin", BootProtocolGuests.MultibootInfoReporter().Bytes.ToArray())));
        Assert.Equal(ImageFormat.Multiboot, ImageFormatDetector.Detect(Write("mb.elf", MultibootKernelFile.Elf32(0x100000, 0x100000, [0xf4]))));
        Assert.Equal(ImageFormat.Elf, ImageFormatDetector.Detect(Write("plain.elf", new TestElf { Entry = 0x100000 }.Load(0x100000, [0xf4], 1, 0x1000).Build())));
        Assert.Equal(ImageFormat.Flat, ImageFormatDetector.Detect(Write("hello.bin", GuestLibrary.Hello().Bytes.ToArray())));
    }

    [Fact]
    public void A_signed_file_longer_than_a_sector_is_flat_and_the_magic_past_8_KiB_does_not_count()
    {
        var disk = new byte[1024];
        disk[510] = 0x55; disk[511] = 0xaa;
        Assert.Equal(ImageFormat.Flat, ImageFormatDetector.Detect(Write("disk.img", disk)));
        var late = new byte[16384];
        BitConverter.TryWriteBytes(late.AsSpan(8192), MultibootHeader.Magic);
        Assert.Equal(ImageFormat.Flat, ImageFormatDetector.Detect(Write("late.bin", late)));
        var unaligned = new byte[64];
        BitConverter.TryWriteBytes(unaligned.AsSpan(6), MultibootHeader.Magic);
        Assert.Equal(ImageFormat.Flat, ImageFormatDetector.Detect(Write("unaligned.bin", unaligned)));
    }

    [Fact]
    public void Open_picks_the_image_type_and_its_only_mode()
    {
        var boot = Write("boot.bin", BootProtocolGuests.BootSectorHello().Bytes.ToArray());
        var mb = Write("mb.bin", BootProtocolGuests.MultibootInfoReporter().Bytes.ToArray());
        Assert.IsType<BootSectorImageFile>(BootableImageFile.Open(boot));
        var kernel = Assert.IsType<MultibootImageFile>(BootableImageFile.Open(mb, commandLine: "a b", modules: [new MultibootModule(boot, "m")]));
        Assert.Equal(BootMode.Protected, kernel.BootMode);
        Assert.Equal("a b", kernel.CommandLine);
        Assert.Single(kernel.Modules);
        Assert.IsType<FlatImageFile>(BootableImageFile.Open(boot, format: ImageFormat.Flat));
        Assert.Contains("real mode only", Assert.Throws<ImageLoadException>(() => BootableImageFile.Open(boot, BootMode.Long)).Message);
        Assert.Contains("protected mode only", Assert.Throws<ImageLoadException>(() => BootableImageFile.Open(mb, BootMode.Real)).Message);
        Assert.Contains("multiboot kernels", Assert.Throws<ImageLoadException>(() => BootableImageFile.Open(boot, commandLine: "x")).Message);
    }
}
