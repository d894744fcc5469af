using Actorvisor.Hardware.Memory;
using Actorvisor.Hardware.Native;
using Actorvisor.Hardware.X86;

namespace Actorvisor.Hardware.Images;

/// <summary>
/// A flat binary file on disk, booted in <see cref="DiskImage.BootMode"/> at a load address (by default
/// <see cref="GuestLayout.DefaultLoadAddress"/> for the mode) that is also its entry point.
/// </summary>
public sealed class FlatImageFile : DiskImage
{
    /// <summary>The binary at <paramref name="path"/> (opened when loaded).</summary>
    public FlatImageFile(string path, BootMode bootMode, int vcpuCount = 1) : base(path, bootMode, vcpuCount)
    {
    }

    /// <summary>The binary read through the open <paramref name="file"/> (owned by the image from now on).</summary>
    public FlatImageFile(ConfinedFile file, BootMode bootMode, int vcpuCount = 1) : base(file, bootMode, vcpuCount)
    {
    }

    /// <inheritdoc />
    public override LoadedImage LoadInto(HostMemory ram, ulong? loadAddress = null) =>
        FlatImageLoader.Load(ram, ReadBytes(), loadAddress ?? GuestLayout.DefaultLoadAddress(BootMode), Path);
}
