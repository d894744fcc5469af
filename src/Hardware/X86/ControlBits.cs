namespace Actorvisor.Hardware.X86;

/// <summary>The control-register and EFER bits the boot setup uses.</summary>
public static class ControlBits
{
    /// <summary>CR0.PE: protected mode.</summary>
    public const ulong Cr0Pe = 1UL << 0;
    /// <summary>CR0.ET: extension type (always 1).</summary>
    public const ulong Cr0Et = 1UL << 4;
    /// <summary>CR0.NE: native FPU errors.</summary>
    public const ulong Cr0Ne = 1UL << 5;
    /// <summary>CR0.WP: supervisor write protection.</summary>
    public const ulong Cr0Wp = 1UL << 16;
    /// <summary>CR0.PG: paging.</summary>
    public const ulong Cr0Pg = 1UL << 31;
    /// <summary>CR4.PAE: physical address extension (required for long mode).</summary>
    public const ulong Cr4Pae = 1UL << 5;
    /// <summary>CR4.OSFXSR.</summary>
    public const ulong Cr4Osfxsr = 1UL << 9;
    /// <summary>EFER.SCE.</summary>
    public const ulong EferSce = 1UL << 0;
    /// <summary>EFER.LME: long mode enable.</summary>
    public const ulong EferLme = 1UL << 8;
    /// <summary>EFER.LMA: long mode active.</summary>
    public const ulong EferLma = 1UL << 10;
    /// <summary>EFER.NXE.</summary>
    public const ulong EferNxe = 1UL << 11;
}
