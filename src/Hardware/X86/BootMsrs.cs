namespace Actorvisor.Hardware.X86;

/// <summary>
/// The model-specific registers a 64-bit kernel expects at entry on the PC platform, with their values: the
/// SYSENTER/SYSCALL MSRs and KERNEL_GS_BASE cleared, the TSC at 0, fast strings enabled in MISC_ENABLE, and MTRRs
/// enabled with write-back as the default memory type (without it a kernel maps RAM uncached).
/// </summary>
public static class BootMsrs
{
    /// <summary>IA32_TSC.</summary>
    public const uint Tsc = 0x10;
    /// <summary>IA32_SYSENTER_CS.</summary>
    public const uint SysenterCs = 0x174;
    /// <summary>IA32_SYSENTER_ESP.</summary>
    public const uint SysenterEsp = 0x175;
    /// <summary>IA32_SYSENTER_EIP.</summary>
    public const uint SysenterEip = 0x176;
    /// <summary>IA32_MISC_ENABLE.</summary>
    public const uint MiscEnable = 0x1a0;
    /// <summary>IA32_MTRR_DEF_TYPE.</summary>
    public const uint MtrrDefType = 0x2ff;
    /// <summary>IA32_STAR.</summary>
    public const uint Star = 0xc000_0081;
    /// <summary>IA32_LSTAR.</summary>
    public const uint Lstar = 0xc000_0082;
    /// <summary>IA32_CSTAR.</summary>
    public const uint Cstar = 0xc000_0083;
    /// <summary>IA32_FMASK (SYSCALL_MASK).</summary>
    public const uint SyscallMask = 0xc000_0084;
    /// <summary>IA32_KERNEL_GS_BASE.</summary>
    public const uint KernelGsBase = 0xc000_0102;

    /// <summary>MISC_ENABLE bit 0: fast string operations.</summary>
    public const ulong MiscEnableFastStrings = 1;
    /// <summary>MTRR_DEF_TYPE: MTRRs enabled (bit 11), default type write-back (6).</summary>
    public const ulong MtrrEnabledWriteBack = (1UL << 11) | 6;

    /// <summary>The MSRs and values, in the order they are written.</summary>
    public static IReadOnlyList<(uint Index, ulong Value)> Entries { get; } =
    [
        (SysenterCs, 0), (SysenterEsp, 0), (SysenterEip, 0),
        (Star, 0), (Cstar, 0), (KernelGsBase, 0), (SyscallMask, 0), (Lstar, 0),
        (Tsc, 0),
        (MiscEnable, MiscEnableFastStrings),
        (MtrrDefType, MtrrEnabledWriteBack),
    ];
}
