using Actorvisor.Hardware.X86;

namespace Actorvisor.Hardware.Images;

/// <summary>Opens an image file as the right <see cref="IBootableImage"/> for its format, detected from its first bytes unless given.</summary>
public static class BootableImageFile
{
    /// <summary>
    /// Opens <paramref name="path"/> as <paramref name="format"/> (null: detected by <see cref="ImageFormatDetector"/>):
    /// an <see cref="ElfImageFile"/> (long mode unless <paramref name="bootMode"/> says otherwise), a
    /// <see cref="FlatImageFile"/> (real mode unless told), a <see cref="BootSectorImageFile"/> (real mode only) or a
    /// <see cref="MultibootImageFile"/> (protected mode only) with <paramref name="commandLine"/> and <paramref name="modules"/>.
    /// </summary>
    /// <exception cref="ImageLoadException">the file cannot be read, a boot mode the format cannot boot in is asked for, or a
    /// command line or modules are given for a format other than multiboot.</exception>
    public static IBootableImage Open(string path, BootMode? bootMode = null, int vcpuCount = 1, ImageFormat? format = null,
        string? commandLine = null, IReadOnlyList<MultibootModule>? modules = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var kind = format ?? ImageFormatDetector.Detect(path);
        if (kind != ImageFormat.Multiboot && (commandLine is not null || modules is { Count: > 0 }))
            throw new ImageLoadException(path, $"a command line and modules are for multiboot kernels; this image is {Describe(kind)}");
        return kind switch
        {
            ImageFormat.Elf => new ElfImageFile(path, bootMode ?? BootMode.Long, vcpuCount),
            ImageFormat.BootSector => new BootSectorImageFile(path, vcpuCount).Checked(bootMode, BootMode.Real, kind),
            ImageFormat.Multiboot => new MultibootImageFile(path, commandLine, modules, vcpuCount).Checked(bootMode, BootMode.Protected, kind),
            _ => new FlatImageFile(path, bootMode ?? BootMode.Real, vcpuCount),
        };
    }

    /// <summary>The format in words, for messages.</summary>
    public static string Describe(ImageFormat format) => format switch
    {
        ImageFormat.Elf => "an ELF executable",
        ImageFormat.BootSector => "a boot sector",
        ImageFormat.Multiboot => "a multiboot kernel",
        _ => "a flat binary",
    };

    private static IBootableImage Checked(this DiskImage image, BootMode? requested, BootMode only, ImageFormat format) =>
        requested is { } mode && mode != only
            ? throw new ImageLoadException(image.Path, $"{Describe(format)} boots in {only.ToString().ToLowerInvariant()} mode only, not {mode.ToString().ToLowerInvariant()}")
            : image;
}
