using Actorvisor.Hardware.Images;
using Actorvisor.Hardware.Memory;
using Actorvisor.Hardware.Native;
using Actorvisor.Hardware.X86;

namespace Actorvisor.Hardware.Machines;

/// <summary>
/// What to build a <see cref="Machine"/> from: guest RAM size, vCPU count, the image, and optional
/// overrides of what the image says (boot mode, entry point, load address).
/// </summary>
public sealed record MachineSpec
{
    /// <summary>The default guest RAM: 32 MiB.</summary>
    public const ulong DefaultMemoryBytes = 32UL << 20;

    /// <summary>The image to boot.</summary>
    public required IBootableImage Image { get; init; }

    /// <summary>Guest RAM in bytes: a multiple of 4 KiB, from <see cref="GuestLayout.MinRamBytes"/> to <see cref="GuestLayout.MaxRamBytes"/>.</summary>
    public ulong MemoryBytes { get; init; } = DefaultMemoryBytes;

    /// <summary>Number of vCPUs; null means as many as the image needs.</summary>
    public int? VcpuCount { get; init; }

    /// <summary>CPU mode at entry; null means the image's.</summary>
    public BootMode? BootMode { get; init; }

    /// <summary>Entry point; null means the image's.</summary>
    public ulong? Entry { get; init; }

    /// <summary>Load address for images that can be placed (flat binaries); null means the image's default.</summary>
    public ulong? LoadAddress { get; init; }

    /// <summary>How guest RAM is backed on the host.</summary>
    public HostMemoryBacking MemoryBacking { get; init; } = HostMemoryBacking.Anonymous;

    /// <summary>Optional lazy guest RAM above ordinary RAM, filled on first touch from a backing store; null for none.</summary>
    public LazyMemorySpec? LazyMemory { get; init; }

    /// <summary>
    /// The machine's virtio-blk disks, in order: disk i is virtio-mmio device i (<see cref="Devices.Virtio.VirtioMmioLayout"/>).
    /// </summary>
    public IReadOnlyList<VirtioDiskSpec> Disks { get; init; } = [];

    /// <summary>The machine's virtio-net cards, in order: card i is virtio-mmio device <see cref="Disks"/>.Count + i.</summary>
    public IReadOnlyList<VirtioNetSpec> Nets { get; init; } = [];

    /// <summary>The machine's virtio-vsock device, or null; it is the virtio-mmio device after the disks and the network cards.</summary>
    public VirtioVsockSpec? Vsock { get; init; }

    /// <summary>Virtio-mmio devices the machine has: its disks, then its network cards, then its vsock device.</summary>
    public int VirtioDeviceCount => (Disks?.Count ?? 0) + (Nets?.Count ?? 0) + (Vsock is null ? 0 : 1);

    /// <summary>
    /// When set, <see cref="Machine.Run"/> counts every vCPU's exits and guest time in a
    /// <see cref="Metrics.VcpuExitCounters"/> under this VM name (exported by <see cref="Metrics.HardwareMeter"/>
    /// while the machine lives); null counts nothing.
    /// </summary>
    public string? CountExitsAs { get; init; }

    /// <summary>The vCPU count after defaults.</summary>
    public int EffectiveVcpuCount => VcpuCount ?? Image.VcpuCount;

    /// <summary>The boot mode after defaults.</summary>
    public BootMode EffectiveBootMode => BootMode ?? Image.BootMode;

    /// <summary>Checks every field.</summary>
    /// <exception cref="MachineSpecException">a field is invalid; the exception names it.</exception>
    public void Validate()
    {
        if (Image is null) throw new MachineSpecException(nameof(Image), "an image is required");
        if (MemoryBytes == 0 || !PageSize.IsAligned(MemoryBytes))
            throw new MachineSpecException(nameof(MemoryBytes), $"0x{MemoryBytes:x} is not a positive multiple of 4 KiB");
        if (MemoryBytes < GuestLayout.MinRamBytes)
            throw new MachineSpecException(nameof(MemoryBytes), $"0x{MemoryBytes:x} bytes is less than the minimum of 0x{GuestLayout.MinRamBytes:x} (1 MiB)");
        if (MemoryBytes > GuestLayout.MaxRamBytes)
            throw new MachineSpecException(nameof(MemoryBytes), $"0x{MemoryBytes:x} bytes is more than the maximum of 0x{GuestLayout.MaxRamBytes:x} (RAM ends where the MMIO window starts)");
        if (MemoryBytes < Image.MinimumMemoryBytes)
            throw new MachineSpecException(nameof(MemoryBytes), $"image '{Image.Name}' needs at least 0x{Image.MinimumMemoryBytes:x} bytes of RAM, the spec gives 0x{MemoryBytes:x}");
        int vcpus = EffectiveVcpuCount;
        if (vcpus < 1 || vcpus > GuestLayout.MaxVcpus)
            throw new MachineSpecException(nameof(VcpuCount), $"{vcpus} is outside 1..{GuestLayout.MaxVcpus}");
        if (vcpus < Image.VcpuCount)
            throw new MachineSpecException(nameof(VcpuCount), $"image '{Image.Name}' needs {Image.VcpuCount} vCPUs, the spec gives {vcpus}");
        if (!Enum.IsDefined(EffectiveBootMode))
            throw new MachineSpecException(nameof(BootMode), $"{EffectiveBootMode} is not a boot mode");
        if (Entry is { } entry)
        {
            if (entry >= MemoryBytes) throw new MachineSpecException(nameof(Entry), $"0x{entry:x} is outside guest RAM (0x{MemoryBytes:x} bytes)");
            if (EffectiveBootMode == X86.BootMode.Real && entry > 0xffff)
                throw new MachineSpecException(nameof(Entry), $"0x{entry:x} is not reachable in real mode (CS=0, IP has 16 bits)");
        }
        if (LoadAddress is { } load && load >= MemoryBytes)
            throw new MachineSpecException(nameof(LoadAddress), $"0x{load:x} is outside guest RAM (0x{MemoryBytes:x} bytes)");
        if (LazyMemory is { } lazy) ValidateLazyMemory(lazy);
        if (Disks is null) throw new MachineSpecException(nameof(Disks), "the disk list is required (empty for none)");
        if (Disks.Count > Devices.Virtio.VirtioMmioLayout.MaxDevices)
            throw new MachineSpecException(nameof(Disks), $"{Disks.Count} disks; a machine has at most {Devices.Virtio.VirtioMmioLayout.MaxDevices} virtio devices");
        for (int i = 0; i < Disks.Count; i++)
            if (Disks[i] is null || string.IsNullOrEmpty(Disks[i].Path)) throw new MachineSpecException($"{nameof(Disks)}[{i}]", "a disk needs an image path");
        if (Nets is null) throw new MachineSpecException(nameof(Nets), "the network card list is required (empty for none)");
        if (VirtioDeviceCount > Devices.Virtio.VirtioMmioLayout.MaxDevices)
            throw new MachineSpecException(Vsock is null ? nameof(Nets) : nameof(Vsock),
                $"{Disks.Count} disks, {Nets.Count} network cards and {(Vsock is null ? 0 : 1)} vsock device; a machine has at most {Devices.Virtio.VirtioMmioLayout.MaxDevices} virtio devices");
        for (int i = 0; i < Nets.Count; i++)
        {
            if (Nets[i] is null) throw new MachineSpecException($"{nameof(Nets)}[{i}]", "a network card needs a tap interface");
            if (Native.TapInterfaceName.Check(Nets[i].Tap) is { } problem) throw new MachineSpecException($"{nameof(Nets)}[{i}]", $"tap '{Nets[i].Tap}': {problem}");
            for (int j = 0; j < i; j++)
                if (Nets[j].Tap == Nets[i].Tap) throw new MachineSpecException($"{nameof(Nets)}[{i}]", $"tap '{Nets[i].Tap}' is already card {j}'s");
        }
        if (Vsock is { } vsock)
        {
            if (vsock.GuestCid is < Devices.Virtio.Vsock.VirtioVsock.MinimumGuestCid or > Devices.Virtio.Vsock.VirtioVsock.MaximumGuestCid)
                throw new MachineSpecException($"{nameof(Vsock)}.{nameof(vsock.GuestCid)}", $"{vsock.GuestCid} is reserved or too large: a guest CID is {Devices.Virtio.Vsock.VirtioVsock.MinimumGuestCid}..{Devices.Virtio.Vsock.VirtioVsock.MaximumGuestCid}");
            if (string.IsNullOrEmpty(vsock.SocketPath)) throw new MachineSpecException($"{nameof(Vsock)}.{nameof(vsock.SocketPath)}", "a vsock device needs a Unix socket path");
        }
    }

    private void ValidateLazyMemory(LazyMemorySpec lazy)
    {
        const string field = nameof(LazyMemory);
        if (lazy.Store is null) throw new MachineSpecException($"{field}.{nameof(lazy.Store)}", "a backing store is required");
        if (lazy.Size == 0 || !PageSize.IsAligned(lazy.Size))
            throw new MachineSpecException($"{field}.{nameof(lazy.Size)}", $"0x{lazy.Size:x} is not a positive multiple of 4 KiB");
        if (!PageSize.IsAligned(lazy.GuestPhysicalAddress))
            throw new MachineSpecException($"{field}.{nameof(lazy.GuestPhysicalAddress)}", $"0x{lazy.GuestPhysicalAddress:x} is not 4 KiB aligned");
        if (lazy.GuestPhysicalAddress < MemoryBytes)
            throw new MachineSpecException($"{field}.{nameof(lazy.GuestPhysicalAddress)}",
                $"0x{lazy.GuestPhysicalAddress:x} overlaps ordinary RAM [0, 0x{MemoryBytes:x}); put the lazy region above it");
        if (lazy.Size > GuestLayout.MmioWindowBase || lazy.GuestPhysicalAddress > GuestLayout.MmioWindowBase - lazy.Size)
            throw new MachineSpecException($"{field}.{nameof(lazy.Size)}",
                $"the region [0x{lazy.GuestPhysicalAddress:x}, +0x{lazy.Size:x}) reaches into the MMIO window at 0x{GuestLayout.MmioWindowBase:x}");
    }
}
