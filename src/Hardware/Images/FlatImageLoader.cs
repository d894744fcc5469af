using Actorvisor.Hardware.Memory;
using Actorvisor.Hardware.Native;

namespace Actorvisor.Hardware.Images;

/// <summary>Loads a flat binary (raw machine code and data, no header) at a fixed guest-physical address.</summary>
public static class FlatImageLoader
{
    /// <summary>Copies <paramref name="image"/> to <paramref name="loadAddress"/>; the entry is the load address.</summary>
    /// <param name="ram">Guest RAM from guest-physical address 0.</param>
    /// <param name="image">The image bytes.</param>
    /// <param name="loadAddress">Guest-physical address of the first byte.</param>
    /// <param name="name">Image name or file path for errors.</param>
    /// <exception cref="ImageLoadException">the image is empty or does not fit in RAM.</exception>
    public static LoadedImage Load(HostMemory ram, ReadOnlySpan<byte> image, ulong loadAddress, string name)
    {
        ArgumentNullException.ThrowIfNull(ram);
        ArgumentException.ThrowIfNullOrEmpty(name);
        if (image.IsEmpty) throw new ImageLoadException(name, "the image is empty");
        ulong length = (ulong)image.Length;
        if (loadAddress >= ram.Size || length > ram.Size - loadAddress)
            throw new ImageLoadException(name,
                $"{length} bytes loaded at 0x{loadAddress:x} would end at 0x{loadAddress + length:x}, beyond guest RAM (0x{ram.Size:x} bytes)");
        ram.Write(loadAddress, image);
        return new LoadedImage(name, loadAddress, [new LoadedSegment(loadAddress, length, length)]);
    }

    /// <summary>Reads the file at <paramref name="path"/> and loads it at <paramref name="loadAddress"/>.</summary>
    /// <exception cref="ImageLoadException">the file cannot be read, is empty, or does not fit.</exception>
    public static LoadedImage LoadFile(HostMemory ram, string path, ulong loadAddress) =>
        Load(ram, ImageFile.ReadAll(path), loadAddress, path);

    /// <summary>Reads the open <paramref name="file"/> through its descriptor and loads it at <paramref name="loadAddress"/>.</summary>
    /// <exception cref="ImageLoadException">the file cannot be read, is empty, or does not fit.</exception>
    public static LoadedImage LoadFile(HostMemory ram, ConfinedFile file, ulong loadAddress) =>
        Load(ram, ImageFile.ReadAll(file), loadAddress, file.Path);
}
