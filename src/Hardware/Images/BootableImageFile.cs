using Actorvisor.Hardware.Native;
using Actorvisor.Hardware.X86;

namespace Actorvisor.Hardware.Images;

/// <summary>Opens an image file as the right <see cref="IBootableImage"/> by looking at its first bytes.</summary>
public static class BootableImageFile
{
    private static ReadOnlySpan<byte> ElfMagic => [0x7f, (byte)'E', (byte)'L', (byte)'F'];

    /// <summary>
    /// An <see cref="ElfImageFile"/> if the file starts with the ELF magic (booted in long mode unless
    /// <paramref name="bootMode"/> says otherwise), else a <see cref="FlatImageFile"/> (real mode unless told).
    /// </summary>
    /// <exception cref="ImageLoadException">the file cannot be read.</exception>
    public static IBootableImage Open(string path, BootMode? bootMode = null, int vcpuCount = 1)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        Span<byte> magic = stackalloc byte[4];
        int read;
        try
        {
            if (Directory.Exists(path)) throw new ImageLoadException(path, "it is a directory, not a file");
            if (!File.Exists(path)) throw new ImageLoadException(path, "the file does not exist");
            using var file = File.OpenRead(path);
            read = file.ReadAtLeast(magic, magic.Length, throwOnEndOfStream: false);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ImageLoadException(path, $"the file cannot be read: {e.Message}", e);
        }
        bool elf = read == 4 && magic.SequenceEqual(ElfMagic);
        return elf
            ? new ElfImageFile(path, bootMode ?? BootMode.Long, vcpuCount)
            : new FlatImageFile(path, bootMode ?? BootMode.Real, vcpuCount);
    }

    /// <summary>
    /// The same choice for an already-open <paramref name="file"/> (a client-named path opened through a
    /// <see cref="ConfinedDirectory"/>): its first bytes are read through the descriptor, and the image keeps and
    /// owns the file, reading it through the same descriptor when it is loaded. On failure the file is closed.
    /// </summary>
    /// <exception cref="ImageLoadException">the file cannot be read.</exception>
    public static DiskImage Open(ConfinedFile file, BootMode? bootMode = null, int vcpuCount = 1)
    {
        ArgumentNullException.ThrowIfNull(file);
        Span<byte> magic = stackalloc byte[4];
        int read;
        try
        {
            read = file.ReadAt(magic, 0);
        }
        catch (IOException e)
        {
            file.Dispose();
            throw new ImageLoadException(file.Path, $"the file cannot be read: {e.Message}", e);
        }
        bool elf = read == 4 && magic.SequenceEqual(ElfMagic);
        return elf
            ? new ElfImageFile(file, bootMode ?? BootMode.Long, vcpuCount)
            : new FlatImageFile(file, bootMode ?? BootMode.Real, vcpuCount);
    }
}
