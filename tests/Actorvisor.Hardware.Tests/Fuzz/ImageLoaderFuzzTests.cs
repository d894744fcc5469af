using Actorvisor.Hardware.Images;
using Actorvisor.Hardware.Memory;
using Actorvisor.Tests.Fuzz;
using Xunit.Abstractions;

namespace Actorvisor.Hardware.Tests.Fuzz;

/// <summary>
/// The image loaders (ELF, flat) under mutated and random files, for a fixed time budget each: they load the
/// file or refuse it with an <see cref="ImageLoadException"/>, never anything else, and never hang. Seeds are
/// Fuzz/Corpus/images.
/// </summary>
public sealed class ImageLoaderFuzzTests(ITestOutputHelper output) : IDisposable
{
    private readonly HostMemory _ram = HostMemory.Allocate(4UL << 20);

    public void Dispose() => _ram.Dispose();

    private static readonly byte[][] Dictionary =
    [
        [0x7f, (byte)'E', (byte)'L', (byte)'F'], [0x01, 0x00, 0x00, 0x00], [0x38, 0x00], [0x40, 0x00], [0x3e, 0x00], [0x02, 0x00],
        [0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00], [0x00, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00],
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
