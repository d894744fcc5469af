using Actorvisor.Hardware.Native;

namespace Actorvisor.Hardware.Machines;

/// <summary>
/// A virtio-blk disk of a machine: a raw image file, named by <see cref="Path"/> relative to <see cref="Directory"/>
/// (the node's confinement of client paths) or, without one, by a path the host trusts (a local CLI run, a test),
/// and whether the guest may write it.
/// </summary>
public sealed record VirtioDiskSpec
{
    /// <summary>The image file: relative to <see cref="Directory"/> if set, else a host path.</summary>
    public required string Path { get; init; }

    /// <summary>True if the guest may only read the disk (VIRTIO_BLK_F_RO; the file is opened read-only).</summary>
    public bool ReadOnly { get; init; }

    /// <summary>The directory <see cref="Path"/> is confined to, or null for a trusted host path. Not owned by the spec.</summary>
    public ConfinedDirectory? Directory { get; init; }

    /// <summary>Opens the image (read-write unless <see cref="ReadOnly"/>); the caller owns the result.</summary>
    /// <exception cref="ConfinedPathException">the path leaves the directory, does not exist or is not a regular file.</exception>
    public ConfinedFile Open()
    {
        if (Directory is { } confined) return confined.OpenFile(Path, writable: !ReadOnly);
        var full = System.IO.Path.GetFullPath(Path);
        using var parent = ConfinedDirectory.Open(System.IO.Path.GetDirectoryName(full)!);
        return parent.OpenFile(System.IO.Path.GetFileName(full), writable: !ReadOnly);
    }

    /// <summary>
    /// Parses the CLI and API form <c>FILE[,ro]</c> (or <c>FILE,rw</c>): the image path and whether the guest only reads
    /// it. A comma in the text must introduce one of those options.
    /// </summary>
    /// <exception cref="ArgumentException">the path is empty or the option after the last comma is neither "ro" nor "rw".</exception>
    public static VirtioDiskSpec Parse(string text, ConfinedDirectory? directory = null)
    {
        ArgumentNullException.ThrowIfNull(text);
        string path = text;
        bool readOnly = false;
        int comma = text.LastIndexOf(',');
        if (comma >= 0)
        {
            var option = text[(comma + 1)..];
            readOnly = option switch
            {
                "ro" => true,
                "rw" => false,
                _ => throw new ArgumentException($"'{option}' is not a disk option (expected FILE[,ro] or FILE,rw)"),
            };
            path = text[..comma];
        }
        if (path.Length == 0) throw new ArgumentException("names no image file (expected FILE[,ro])");
        return new VirtioDiskSpec { Path = path, ReadOnly = readOnly, Directory = directory };
    }

    /// <inheritdoc />
    public override string ToString() => $"{Path}{(ReadOnly ? ",ro" : "")}";
}
