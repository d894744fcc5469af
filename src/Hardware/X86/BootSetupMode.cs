namespace Actorvisor.Hardware.X86;

/// <summary>The CPU mode <see cref="BootSetup"/> puts a vCPU in before the guest's first instruction.</summary>
public enum BootMode
{
    /// <summary>16-bit real mode, CS=0: the entry point must be below 64 KiB.</summary>
    Real,
    /// <summary>32-bit protected mode with flat 4 GiB code and data segments, paging off.</summary>
    Protected,
    /// <summary>64-bit long mode with the low guest-physical space identity-mapped by 2 MiB pages.</summary>
    Long,
}
