using Actorvisor.Hardware.Native;
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

    /// <summary>
    /// The same choice for an already-open <paramref name="file"/> (a client-named path opened through a
    /// <see cref="ConfinedDirectory"/>): the format is told from its first bytes read through the descriptor,
    /// and the image keeps and owns the file, reading it through the same descriptor when it is loaded (module
    /// files likewise, when opened the same way). On failure the file is closed.
    /// </summary>
    /// <exception cref="ImageLoadException">the file cannot be read, or as for the path overload.</exception>
    public static DiskImage Open(ConfinedFile file, BootMode? bootMode = null, int vcpuCount = 1, ImageFormat? format = null,
        string? commandLine = null, IReadOnlyList<MultibootModule>? modules = null)
    {
        ArgumentNullException.ThrowIfNull(file);
        try
        {
            var kind = format ?? Detect(file);
            if (kind != ImageFormat.Multiboot && (commandLine is not null || modules is { Count: > 0 }))
                throw new ImageLoadException(file.Path, $"a command line and modules are for multiboot kernels; this image is {Describe(kind)}");
            return kind switch
            {
                ImageFormat.Elf => new ElfImageFile(file, bootMode ?? BootMode.Long, vcpuCount),
                ImageFormat.BootSector => new BootSectorImageFile(file, vcpuCount).Checked(bootMode, BootMode.Real, kind),
                ImageFormat.Multiboot => new MultibootImageFile(file, commandLine, modules, vcpuCount).Checked(bootMode, BootMode.Protected, kind),
                _ => new FlatImageFile(file, bootMode ?? BootMode.Real, vcpuCount),
            };
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    private static ImageFormat Detect(ConfinedFile file)
    {
        try
        {
            var head = new byte[MultibootHeader.SearchBytes];
            int read = 0;
            while (read < head.Length)
            {
                int n = file.ReadAt(head.AsSpan(read), read);
                if (n == 0) break;
                read += n;
            }
            return ImageFormatDetector.Detect(head.AsSpan(0, read), file.Length);
        }
        catch (IOException e)
        {
            throw new ImageLoadException(file.Path, $"the file cannot be read: {e.Message}", e);
        }
    }

    /// <summary>The format in words, for messages.</summary>
    public static string Describe(ImageFormat format) => format switch
    {
        ImageFormat.Elf => "an ELF executable",
        ImageFormat.BootSector => "a boot sector",
        ImageFormat.Multiboot => "a multiboot kernel",
        _ => "a flat binary",
    };

    private static DiskImage Checked(this DiskImage image, BootMode? requested, BootMode only, ImageFormat format) =>
        requested is { } mode && mode != only
            ? throw new ImageLoadException(image.Path, $"{Describe(format)} boots in {only.ToString().ToLowerInvariant()} mode only, not {mode.ToString().ToLowerInvariant()}")
            : image;
}
