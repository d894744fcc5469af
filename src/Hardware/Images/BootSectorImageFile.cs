using Actorvisor.Hardware.Memory;
using Actorvisor.Hardware.Native;
using Actorvisor.Hardware.X86;

namespace Actorvisor.Hardware.Images;

/// <summary>A boot sector file (see <see cref="BootSector"/>), always booted in real mode.</summary>
public sealed class BootSectorImageFile : DiskImage
{
    /// <summary>The boot sector at <paramref name="path"/> (opened when loaded).</summary>
    public BootSectorImageFile(string path, int vcpuCount = 1) : base(path, BootMode.Real, vcpuCount)
    {
    }

    /// <summary>The boot sector read through the open <paramref name="file"/> (owned by the image from now on).</summary>
    public BootSectorImageFile(ConfinedFile file, int vcpuCount = 1) : base(file, BootMode.Real, vcpuCount)
    {
    }

    /// <inheritdoc />
    public override LoadedImage LoadInto(HostMemory ram, ulong? loadAddress = null) =>
        BootSector.Load(ram, ReadBytes(), Path, loadAddress);
}
