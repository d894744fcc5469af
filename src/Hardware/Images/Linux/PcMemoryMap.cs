using Actorvisor.Hardware.X86;

namespace Actorvisor.Hardware.Images.Linux;

/// <summary>
/// The e820 map of Actorvisor's PC platform for a given amount of guest RAM (one range from 0, below the MMIO
/// window): conventional RAM below the EBDA, the EBDA (which holds the MP table), the ACPI tables and the BIOS area
/// reserved, then RAM from 1 MiB to the end of guest RAM.
/// <code>
///   0x0000_0000 - 0x0009_fbff  RAM
///   0x0009_fc00 - 0x0009_ffff  reserved: EBDA, the MP table
///   0x000a_0000 - 0x000d_ffff  (hole: legacy VGA and option ROMs; listed in no entry)
///   0x000e_0000 - 0x000e_ffff  reserved: the ACPI tables (Acpi.AcpiTables.PcAddress)
///   0x000f_0000 - 0x000f_ffff  reserved: the BIOS area
///   0x0010_0000 - RAM end      RAM
/// </code>
/// </summary>
public static class PcMemoryMap
{
    /// <summary>Start of the extended BIOS data area, which ends conventional RAM at 639 KiB.</summary>
    public const ulong EbdaStart = 0x9_fc00;
    /// <summary>End of conventional memory (640 KiB).</summary>
    public const ulong ConventionalEnd = 0xa_0000;
    /// <summary>Start of the area that holds the ACPI tables, below the BIOS area.</summary>
    public const ulong AcpiStart = 0xe_0000;
    /// <summary>Start of the system BIOS area.</summary>
    public const ulong BiosStart = 0xf_0000;
    /// <summary>Start of extended memory (1 MiB).</summary>
    public const ulong HighMemoryStart = 0x10_0000;

    /// <summary>The entries for <paramref name="ramBytes"/> of guest RAM, in address order.</summary>
    /// <exception cref="ArgumentOutOfRangeException">RAM ends at or below 1 MiB, or reaches the MMIO window.</exception>
    public static IReadOnlyList<E820Entry> For(ulong ramBytes)
    {
        if (ramBytes <= HighMemoryStart || ramBytes > GuestLayout.MmioWindowBase)
            throw new ArgumentOutOfRangeException(nameof(ramBytes), ramBytes, $"the PC memory map needs RAM above 1 MiB and below the MMIO window at 0x{GuestLayout.MmioWindowBase:x}");
        return
        [
            new E820Entry(0, EbdaStart, E820Type.Ram),
            new E820Entry(EbdaStart, ConventionalEnd - EbdaStart, E820Type.Reserved),
            new E820Entry(AcpiStart, BiosStart - AcpiStart, E820Type.Reserved),
            new E820Entry(BiosStart, HighMemoryStart - BiosStart, E820Type.Reserved),
            new E820Entry(HighMemoryStart, ramBytes - HighMemoryStart, E820Type.Ram),
        ];
    }
}
