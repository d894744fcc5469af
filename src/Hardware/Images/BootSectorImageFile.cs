using Actorvisor.Hardware.Memory;
using Actorvisor.Hardware.X86;

namespace Actorvisor.Hardware.Images;

/// <summary>A boot sector file (see <see cref="BootSector"/>), always booted in real mode.</summary>
public sealed class BootSectorImageFile(string path, int vcpuCount = 1) : DiskImage(path, BootMode.Real, vcpuCount)
{
    /// <inheritdoc />
    public override LoadedImage LoadInto(HostMemory ram, ulong? loadAddress = null) =>
        BootSector.Load(ram, ImageFile.ReadAll(Path), Path, loadAddress);
}
