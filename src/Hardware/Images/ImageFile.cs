using Actorvisor.Hardware.Native;

namespace Actorvisor.Hardware.Images;

/// <summary>Reads image files, turning I/O failures into <see cref="ImageLoadException"/>s that name the file.</summary>
internal static class ImageFile
{
    /// <summary>Most bytes an image file may have: guest RAM is below 3 GiB anyway, and arrays stop at 2 GiB.</summary>
    public const long MaxBytes = int.MaxValue;

    public static byte[] ReadAll(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        try
        {
            var info = new FileInfo(path);
            if (Directory.Exists(path)) throw new ImageLoadException(path, "it is a directory, not a file");
            if (!info.Exists) throw new ImageLoadException(path, "the file does not exist");
            if (info.Length > MaxBytes) throw new ImageLoadException(path, $"the file is {info.Length} bytes; images are limited to {MaxBytes}");
            return File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ImageLoadException(path, $"the file cannot be read: {e.Message}", e);
        }
    }

    /// <summary>The whole of the open <paramref name="file"/>, read through its descriptor.</summary>
    public static byte[] ReadAll(ConfinedFile file)
    {
        ArgumentNullException.ThrowIfNull(file);
        try
        {
            long length = file.Length;
            if (length > MaxBytes) throw new ImageLoadException(file.Path, $"the file is {length} bytes; images are limited to {MaxBytes}");
            return file.ReadAll(MaxBytes);
        }
        catch (IOException e)
        {
            throw new ImageLoadException(file.Path, $"the file cannot be read: {e.Message}", e);
        }
    }
}
