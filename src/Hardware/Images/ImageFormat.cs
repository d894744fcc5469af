namespace Actorvisor.Hardware.Images;

/// <summary>The kinds of image file Actorvisor boots; <see cref="ImageFormatDetector"/> tells them apart.</summary>
public enum ImageFormat
{
    /// <summary>Raw code and data copied to a load address that is also the entry (real mode unless told).</summary>
    Flat,
    /// <summary>An ELF64 x86-64 executable entered directly (long mode unless told).</summary>
    Elf,
    /// <summary>A PC boot sector: 512 bytes ending in 55 AA, entered at 0000:7c00 in real mode.</summary>
    BootSector,
    /// <summary>A multiboot v1 kernel (a header in its first 8 KiB), entered in 32-bit protected mode.</summary>
    Multiboot,
}
