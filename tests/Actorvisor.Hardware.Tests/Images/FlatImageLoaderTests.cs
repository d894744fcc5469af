using Actorvisor.Hardware.Images;
using Actorvisor.Hardware.Memory;
using Actorvisor.Hardware.X86;

namespace Actorvisor.Hardware.Tests.Images;

public sealed class FlatImageLoaderTests : IDisposable
{
    private readonly HostMemory _ram = HostMemory.Allocate(1UL << 20);
    private readonly string _dir = Directory.CreateTempSubdirectory("actorvisor-flat-").FullName;

    public void Dispose()
    {
        _ram.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    [Fact]
    public void A_file_is_copied_to_the_load_address_which_is_the_entry()
    {
        var path = Path.Combine(_dir, "boot.bin");
        File.WriteAllBytes(path, [0xf4, 0xeb, 0xfd]);
        var loaded = FlatImageLoader.LoadFile(_ram, path, 0x8000);
        Assert.Equal(0x8000UL, loaded.Entry);
        Assert.Equal(new LoadedSegment(0x8000, 3, 3), Assert.Single(loaded.Segments));
        Assert.Equal(new byte[] { 0xf4, 0xeb, 0xfd }, _ram.Span(0x8000, 3).ToArray());
    }

    [Fact]
    public void Flat_image_file_defaults_to_the_mode_load_address()
    {
        var path = Path.Combine(_dir, "pm.bin");
        File.WriteAllBytes(path, [0x90]);
        Assert.Equal(0x8000UL, new FlatImageFile(path, BootMode.Real).LoadInto(_ram).Entry);
        // Protected mode defaults to 1 MiB: exactly the end of this 1 MiB RAM, so only an override fits.
        var e = Assert.Throws<ImageLoadException>(() => new FlatImageFile(path, BootMode.Protected).LoadInto(_ram));
        Assert.Contains("at 0x100000", e.Message);
        Assert.Equal(0xff000UL, new FlatImageFile(path, BootMode.Protected).LoadInto(_ram, 0xff000).Entry);
    }

    [Fact]
    public void An_image_that_does_not_fit_names_the_file_and_the_overrun()
    {
        var path = Path.Combine(_dir, "huge.bin");
        File.WriteAllBytes(path, new byte[0x2000]);
        var e = Assert.Throws<ImageLoadException>(() => FlatImageLoader.LoadFile(_ram, path, 0xff000));
        Assert.Contains("huge.bin", e.Message);
        Assert.Contains("beyond guest RAM", e.Message);
        Assert.Contains("0x101000", e.Message);
        Assert.Throws<ImageLoadException>(() => FlatImageLoader.LoadFile(_ram, path, 0x100000));
    }

    [Fact]
    public void Missing_empty_and_directory_paths_are_clear_errors()
    {
        var missing = Path.Combine(_dir, "missing.bin");
        Assert.Contains("does not exist", Assert.Throws<ImageLoadException>(() => FlatImageLoader.LoadFile(_ram, missing, 0x8000)).Message);
        var empty = Path.Combine(_dir, "empty.bin");
        File.WriteAllBytes(empty, []);
        var e = Assert.Throws<ImageLoadException>(() => FlatImageLoader.LoadFile(_ram, empty, 0x8000));
        Assert.Contains("empty", e.Problem);
        Assert.Equal(empty, e.Image);
        Assert.Contains("directory", Assert.Throws<ImageLoadException>(() => FlatImageLoader.LoadFile(_ram, _dir, 0x8000)).Message);
    }
}
