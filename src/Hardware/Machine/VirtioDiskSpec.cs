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

    /// <inheritdoc />
    public override string ToString() => $"{Path}{(ReadOnly ? ",ro" : "")}";
}
