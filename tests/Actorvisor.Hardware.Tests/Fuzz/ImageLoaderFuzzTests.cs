using Actorvisor.Hardware.Images;
using Actorvisor.Hardware.Images.Linux;
using Actorvisor.Hardware.Native;
using Actorvisor.Hardware.Memory;
using Actorvisor.Tests.Fuzz;
using Xunit.Abstractions;

namespace Actorvisor.Hardware.Tests.Fuzz;

/// <summary>
/// The image loaders (ELF, flat, boot sector, multiboot, Linux bzImage, and the node's path: format detection on an
/// opened file, then that format's loader) under mutated and random files, for a fixed time budget each: they load the
/// file or refuse it with an <see cref="ImageLoadException"/>, never anything else, and never hang. Seeds are
/// Fuzz/Corpus/images (*.elf, *.bin, *.bootsector, *.multiboot, *.bzimage).
/// </summary>
public sealed class ImageLoaderFuzzTests(ITestOutputHelper output) : IDisposable
{
    private readonly HostMemory _ram = HostMemory.Allocate(4UL << 20);
    // A bzImage goes to its pref_address (16 MiB in the seeds) or 1 MiB; mapped lazily, so only what is written costs memory.
    private readonly HostMemory _pcRam = HostMemory.Allocate(64UL << 20);
    private readonly string _dir = Directory.CreateTempSubdirectory("actorvisor-image-fuzz-").FullName;

    public void Dispose()
    {
        _ram.Dispose();
        _pcRam.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    private static readonly MultibootLoader.ModuleData[] Modules = [new("fuzz.mod", "module"u8.ToArray(), "fuzz.mod first")];

    private static readonly byte[][] Dictionary =
    [
        [0x7f, (byte)'E', (byte)'L', (byte)'F'], [0x01, 0x00, 0x00, 0x00], [0x38, 0x00], [0x40, 0x00], [0x3e, 0x00], [0x02, 0x00],
        [0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00], [0x00, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00],
        [0x55, 0xaa], [0x02, 0xb0, 0xad, 0x1b], [0x03, 0x00, 0x01, 0x00], [0x00, 0x00, 0x10, 0x00], [0xff, 0xff, 0xff, 0xff],
        [(byte)'H', (byte)'d', (byte)'r', (byte)'S'], [0x0f, 0x02], [0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00],
    ];

    private static IReadOnlyList<byte[]> Seeds(string extension) =>
        Directory.GetFiles(Path.Combine(AppContext.BaseDirectory, "Fuzz", "Corpus", "images"))
            .Where(f => extension == "*" || f.EndsWith(extension, StringComparison.Ordinal))
            .Order(StringComparer.Ordinal).Select(File.ReadAllBytes).ToList();

    [Fact]
    public void Every_elf_seed_loads()
    {
        var seeds = Seeds(".elf");
        Assert.True(seeds.Count >= 3, $"{seeds.Count} ELF seeds");
        Assert.All(seeds, s => Assert.NotEmpty(ElfLoader.Load(_ram, s, "seed.elf").Segments));
    }

    [Fact]
    public void Every_boot_sector_multiboot_and_bzimage_seed_loads()
    {
        var bootSectors = Seeds(".bootsector");
        var multiboot = Seeds(".multiboot");
        var bzImages = Seeds(".bzimage");
        Assert.True(bootSectors.Count >= 1 && multiboot.Count >= 2 && bzImages.Count >= 2, $"{bootSectors.Count} boot sectors, {multiboot.Count} multiboot, {bzImages.Count} bzImages");
        Assert.All(bootSectors, s => Assert.Equal(0x7c00UL, BootSector.Load(_ram, s, "seed.bootsector").Entry));
        Assert.All(multiboot, s => Assert.NotEmpty(MultibootLoader.Load(_ram, s, "seed.multiboot", "", Modules).Segments));
        Assert.All(bzImages, s => Assert.NotEmpty(LoadBzImage(s).Segments));
    }

    private LoadedImage LoadBzImage(byte[] input)
    {
        // LinuxKernelImage reads its kernel from a file, as the node gives it one.
        var path = Path.Combine(_dir, "bzImage");
        File.WriteAllBytes(path, input);
        return new LinuxKernelImage(path, InitrdPath(), "console=ttyS0").LoadInto(_pcRam);
    }

    private string InitrdPath()
    {
        var path = Path.Combine(_dir, "initrd");
        if (!File.Exists(path)) File.WriteAllBytes(path, new byte[0x1800]);
        return path;
    }

    [Fact]
    public void The_boot_sector_loader_loads_or_refuses_every_mutated_file()
    {
        var report = FuzzRun.Run("bootsector", Seeds(".bootsector"), input =>
        {
            ulong? address = input.Length >= 8 && input[0] % 2 == 0 ? BitConverter.ToUInt64(input) % (8UL << 20) : null;
            var loaded = BootSector.Load(_ram, input, "fuzz.bootsector", address);
            Assert.Equal(address ?? 0x7c00UL, loaded.Entry);
        }, e => e is ImageLoadException, Dictionary, maxLength: 2048);
        output.WriteLine(report.ToString());
        Assert.True(report.Inputs >= 100 || FuzzRun.Replaying, report.ToString());
    }

    [Fact]
    public void The_multiboot_loader_loads_or_refuses_every_mutated_kernel()
    {
        // ELF seeds too: a multiboot kernel without the address fields is loaded as ELF.
        var report = FuzzRun.Run("multiboot", [.. Seeds(".multiboot"), .. Seeds(".elf")], input =>
        {
            var loaded = MultibootLoader.Load(_ram, input, "fuzz.multiboot", "console=ttyS0", Modules);
            Assert.All(loaded.Segments, s => Assert.True(s.End <= _ram.Size, $"segment {s} beyond RAM"));
        }, e => e is ImageLoadException, Dictionary);
        output.WriteLine(report.ToString());
        Assert.True(report.Inputs >= 100 || FuzzRun.Replaying, report.ToString());
    }

    [Fact]
    public void The_bzimage_loader_loads_or_refuses_every_mutated_kernel()
    {
        var report = FuzzRun.Run("bzimage", Seeds(".bzimage"), input =>
        {
            var loaded = LoadBzImage(input);
            Assert.All(loaded.Segments, s => Assert.True(s.End <= _pcRam.Size, $"segment {s} beyond RAM"));
        }, e => e is ImageLoadException, Dictionary, maxLength: 16 << 10);
        output.WriteLine(report.ToString());
        Assert.True(report.Inputs >= 100 || FuzzRun.Replaying, report.ToString());
    }

    [Fact]
    public void The_nodes_path_detects_and_loads_or_refuses_every_mutated_file()
    {
        // As VmImageResolver does: the file opened beneath a confined directory, its format detected from the
        // descriptor, then that format's loader (flat files load anywhere, so most inputs are accepted as flat).
        using var directory = ConfinedDirectory.Open(_dir);
        var report = FuzzRun.Run("detected", Seeds("*"), input =>
        {
            File.WriteAllBytes(Path.Combine(_dir, "image"), input);
            using var image = BootableImageFile.Open(directory.OpenFile("image"));
            image.LoadInto(_ram);
        }, e => e is ImageLoadException, Dictionary);
        output.WriteLine(report.ToString());
        Assert.True(report.Inputs >= 100 || FuzzRun.Replaying, report.ToString());
    }

    [Fact]
    public void The_elf_loader_loads_or_refuses_every_mutated_file()
    {
        var report = FuzzRun.Run("elf", Seeds(".elf"), input =>
        {
            var loaded = ElfLoader.Load(_ram, input, "fuzz.elf");
            Assert.All(loaded.Segments, s => Assert.True(s.End <= _ram.Size, $"segment {s} beyond RAM"));
        }, e => e is ImageLoadException, Dictionary);
        output.WriteLine(report.ToString());
        Assert.True(report.Inputs >= 100 || FuzzRun.Replaying, report.ToString());
    }

    [Fact]
    public void The_flat_loader_loads_or_refuses_every_mutated_file()
    {
        var report = FuzzRun.Run("flat", Seeds("*"), input =>
        {
            // The load address comes from the input too, so that the bounds checks meet odd addresses.
            ulong address = input.Length >= 8 ? BitConverter.ToUInt64(input) % (8UL << 20) : 0x8000;
            var loaded = FlatImageLoader.Load(_ram, input, address, "fuzz.bin");
            Assert.Equal(address + (ulong)input.Length, loaded.EndAddress);
        }, e => e is ImageLoadException, Dictionary);
        output.WriteLine(report.ToString());
        Assert.True(report.Inputs >= 100 || FuzzRun.Replaying, report.ToString());
    }
}
