using Actorvisor.Hardware.Memory;
using Actorvisor.Hardware.X86;

namespace Actorvisor.Hardware.Images;

/// <summary>
/// Something a machine can boot: an assembled library guest, a flat binary file or an ELF executable.
/// It knows how to copy itself into guest RAM and which CPU mode and vCPU count it expects.
/// </summary>
public interface IBootableImage
{
    /// <summary>Name for messages (the guest's name or the file path).</summary>
    string Name { get; }

    /// <summary>The CPU mode the image's entry point expects.</summary>
    BootMode BootMode { get; }

    /// <summary>The number of vCPUs the image is written for (a machine may not have fewer).</summary>
    int VcpuCount { get; }

    /// <summary>The least guest RAM the image needs to run (0 if only its own size matters).</summary>
    ulong MinimumMemoryBytes { get; }

    /// <summary>The platform the image needs (<see cref="GuestPlatform.Minimal"/> unless it says otherwise).</summary>
    GuestPlatform Platform => GuestPlatform.Minimal;

    /// <summary>
    /// Copies the image into <paramref name="ram"/> (guest RAM from guest-physical address 0), at
    /// <paramref name="loadAddress"/> if given and the format allows choosing.
    /// </summary>
    /// <exception cref="ImageLoadException">the image is unreadable, malformed or does not fit.</exception>
    LoadedImage LoadInto(HostMemory ram, ulong? loadAddress = null);
}
