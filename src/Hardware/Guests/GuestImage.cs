using Actorvisor.Hardware.Images;
using Actorvisor.Hardware.Memory;
using Actorvisor.Hardware.X86;

namespace Actorvisor.Hardware.Guests;

/// <summary>
/// An assembled guest program: its bytes, where it is loaded and entered, the CPU mode and vCPU count it
/// is written for, and what it is expected to print and return, so that a test or the CLI can check a
/// run against it.
/// </summary>
public sealed record GuestImage : IBootableImage
{
    private readonly byte[] _bytes;

    /// <summary>Creates a validated image.</summary>
    public GuestImage(string name, byte[] bytes, ulong loadAddress, ulong entry, BootMode bootMode, int vcpuCount, string description)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentNullException.ThrowIfNull(bytes);
        if (bytes.Length == 0) throw new ArgumentException($"guest image '{name}' has no bytes", nameof(bytes));
        if (entry < loadAddress || entry >= loadAddress + (ulong)bytes.Length)
            throw new ArgumentOutOfRangeException(nameof(entry), $"guest image '{name}': entry 0x{entry:x} lies outside the image [0x{loadAddress:x}, 0x{loadAddress + (ulong)bytes.Length:x})");
        if (vcpuCount < 1) throw new ArgumentOutOfRangeException(nameof(vcpuCount), vcpuCount, $"guest image '{name}' needs at least one vCPU");
        Name = name;
        _bytes = bytes;
        LoadAddress = loadAddress;
        Entry = entry;
        BootMode = bootMode;
        VcpuCount = vcpuCount;
        Description = description ?? "";
    }

    /// <inheritdoc />
    public string Name { get; }

    /// <summary>The machine code and data.</summary>
    public ReadOnlyMemory<byte> Bytes => _bytes;

    /// <summary>Guest-physical address of the first byte; the code is assembled for this address.</summary>
    public ulong LoadAddress { get; }

    /// <summary>Guest address of the first instruction.</summary>
    public ulong Entry { get; }

    /// <inheritdoc />
    public BootMode BootMode { get; }

    /// <inheritdoc />
    public int VcpuCount { get; }

    /// <summary>What the guest does, for listings.</summary>
    public string Description { get; }

    /// <summary>Exactly what the guest prints on COM1 when it runs correctly.</summary>
    public string ExpectedConsole { get; init; } = "";

    /// <summary>The result code it writes to the debug-exit port, or null if it ends another way (HLT, a fault).</summary>
    public int? ExpectedResultCode { get; init; }

    /// <inheritdoc />
    public ulong MinimumMemoryBytes { get; init; } = GuestLayout.MinRamBytes;

    /// <summary>
    /// How the bytes are booted: copied to <see cref="LoadAddress"/> (flat, the default), or through a boot
    /// protocol (a boot sector's BIOS handoff, a multiboot kernel's header and information) as a file of that format would be.
    /// </summary>
    public ImageFormat Format { get; init; } = ImageFormat.Flat;

    /// <summary>The platform the guest is written for: <see cref="GuestPlatform.Minimal"/> unless it needs the PC's interrupt controllers and devices.</summary>
    public GuestPlatform Platform { get; init; } = GuestPlatform.Minimal;

    /// <inheritdoc />
    public LoadedImage LoadInto(HostMemory ram, ulong? loadAddress = null)
    {
        // The code holds absolute addresses (strings, data), so it only runs where it was assembled for.
        if (loadAddress is { } a && a != LoadAddress)
            throw new ImageLoadException(Name, $"the guest is assembled for 0x{LoadAddress:x} and cannot be loaded at 0x{a:x}");
        return Format switch
        {
            ImageFormat.BootSector => BootSector.Load(ram, _bytes, Name, LoadAddress),
            ImageFormat.Multiboot => MultibootLoader.Load(ram, _bytes, Name, "", []),
            _ => FlatImageLoader.Load(ram, _bytes, LoadAddress, Name) with { Entry = Entry },
        };
    }

    /// <inheritdoc />
    public override string ToString() => $"{Name} ({BootMode} mode, {VcpuCount} vCPU, {_bytes.Length} bytes at 0x{LoadAddress:x})";
}
