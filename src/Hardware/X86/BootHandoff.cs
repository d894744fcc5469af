namespace Actorvisor.Hardware.X86;

/// <summary>
/// The register values a boot protocol hands an image's entry point on top of what <see cref="BootSetup"/> sets
/// for every image: a PC BIOS gives a boot sector its drive in DL and a stack below it, a multiboot loader gives
/// the kernel its magic in EAX and the address of its information structure in EBX, a Linux 64-bit entry
/// gets the address of boot_params in RSI. Null fields keep
/// <see cref="BootSetup"/>'s value.
/// </summary>
public sealed record BootHandoff
{
    /// <summary>EAX/RAX at entry, or null for zero.</summary>
    public ulong? Rax { get; init; }

    /// <summary>EBX/RBX at entry, or null for zero.</summary>
    public ulong? Rbx { get; init; }

    /// <summary>EDX/RDX at entry, or null for zero.</summary>
    public ulong? Rdx { get; init; }

    /// <summary>
    /// RSI at entry (Linux's 64-bit boot protocol: the address of boot_params; RDI is then zero), or null for
    /// <see cref="BootSetup"/>'s convention (the vCPU count in RSI, the vCPU's index in RDI).
    /// </summary>
    public ulong? Rsi { get; init; }

    /// <summary>
    /// vCPU 0's initial stack pointer, or null for the layout's boot stacks; vCPU n starts
    /// n * <see cref="GuestLayout.BootStackSize"/> below it.
    /// </summary>
    public ulong? StackTop { get; init; }
}
