using Actorvisor.Hardware.Memory;
using Actorvisor.Hardware.X86;

namespace Actorvisor.Hardware.Images;

/// <summary>
/// A flat binary file on disk, booted in <see cref="DiskImage.BootMode"/> at a load address (by default
/// <see cref="GuestLayout.DefaultLoadAddress"/> for the mode) that is also its entry point.
/// </summary>
public sealed class FlatImageFile(string path, BootMode bootMode, int vcpuCount = 1) : DiskImage(path, bootMode, vcpuCount)
{
    /// <inheritdoc />
    public override LoadedImage LoadInto(HostMemory ram, ulong? loadAddress = null) =>
        FlatImageLoader.LoadFile(ram, Path, loadAddress ?? GuestLayout.DefaultLoadAddress(BootMode));
}
