using Actorvisor.Hardware.X86;

namespace Actorvisor.Hardware.Images;

/// <summary>One range of guest-physical memory an image loader filled.</summary>
/// <param name="Address">First guest-physical address.</param>
/// <param name="FileBytes">Bytes copied from the image.</param>
/// <param name="MemoryBytes">Bytes occupied in memory (the rest after <paramref name="FileBytes"/> was zeroed: bss).</param>
public sealed record LoadedSegment(ulong Address, ulong FileBytes, ulong MemoryBytes)
{
    /// <summary>One past the last byte.</summary>
    public ulong End => Address + MemoryBytes;

    /// <summary>True if [start, end) shares a byte with this segment.</summary>
    public bool Overlaps(ulong start, ulong end) => Address < end && start < End;
}

/// <summary>What loading an image into guest memory produced: where it went, where it starts and what its boot protocol hands the entry point.</summary>
/// <param name="Name">The image's name or file path.</param>
/// <param name="Entry">Guest address of the first instruction.</param>
/// <param name="Segments">The memory the image occupies.</param>
public sealed record LoadedImage(string Name, ulong Entry, IReadOnlyList<LoadedSegment> Segments)
{
    /// <summary>Registers the image's boot protocol sets at entry (multiboot's EAX/EBX, a boot sector's DL and stack, Linux's RSI), or null.</summary>
    public BootHandoff? Handoff { get; init; }

    /// <summary>Lowest address the image occupies.</summary>
    public ulong LowestAddress => Segments.Min(s => s.Address);

    /// <summary>One past the highest address the image occupies.</summary>
    public ulong EndAddress => Segments.Max(s => s.End);
}
