namespace Actorvisor.Hardware.Images;

/// <summary>
/// Tells an image file's format from its first 8 KiB and its length: a multiboot header's magic at a 4-byte aligned
/// offset of the first 8 KiB makes a multiboot kernel (even an ELF one: it is booted the multiboot way, and a bad
/// checksum is then reported rather than the file run as something else); else the ELF magic an ELF executable;
/// else exactly 512 bytes ending in 55 AA a boot sector; else a flat binary.
/// </summary>
public static class ImageFormatDetector
{
    /// <summary>The format of a file whose first bytes are <paramref name="head"/> (up to 8 KiB) and whose length is <paramref name="fileLength"/>.</summary>
    public static ImageFormat Detect(ReadOnlySpan<byte> head, long fileLength)
    {
        if (MultibootHeader.FindMagic(head) >= 0) return ImageFormat.Multiboot;
        if (ElfSegments.HasElfMagic(head)) return ImageFormat.Elf;
        if (fileLength == BootSector.Size && BootSector.IsBootSector(head)) return ImageFormat.BootSector;
        return ImageFormat.Flat;
    }

    /// <summary>The format of the file at <paramref name="path"/>.</summary>
    /// <exception cref="ImageLoadException">the file does not exist or cannot be read.</exception>
    public static ImageFormat Detect(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        try
        {
            if (Directory.Exists(path)) throw new ImageLoadException(path, "it is a directory, not a file");
            if (!File.Exists(path)) throw new ImageLoadException(path, "the file does not exist");
            using var file = File.OpenRead(path);
            var head = new byte[MultibootHeader.SearchBytes];
            int read = file.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
            return Detect(head.AsSpan(0, read), file.Length);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ImageLoadException(path, $"the file cannot be read: {e.Message}", e);
        }
    }
}
