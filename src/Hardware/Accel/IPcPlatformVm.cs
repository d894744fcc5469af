using Actorvisor.Hardware.Devices;

namespace Actorvisor.Hardware.Accel;

/// <summary>
/// A VM that can be a PC (<see cref="X86.GuestPlatform.Pc"/>): it owns an in-kernel chipset (PIC, IOAPIC, a
/// LAPIC per vCPU, PIT), the interrupt lines devices raise on it, and prepares each vCPU as a PC processor.
/// Only KVM provides one.
/// </summary>
public interface IPcPlatformVm : IIrqLines
{
    /// <summary>Creates the chipset. Call once, before any vCPU exists.</summary>
    void CreatePcChipset();

    /// <summary>
    /// Prepares <paramref name="vcpu"/> (created after <see cref="CreatePcChipset"/>) as a PC processor: the MSRs and
    /// FPU state a kernel expects at entry, LINT0 as ExtINT and LINT1 as NMI. An application processor
    /// (<paramref name="bootProcessor"/> false) is left waiting for INIT-SIPI; only the boot processor runs at once.
    /// </summary>
    void PreparePcVcpu(IVirtualCpu vcpu, bool bootProcessor);

    /// <summary>
    /// Puts the chipset (created by <see cref="CreatePcChipset"/>) in the state a PC BIOS leaves
    /// (<see cref="X86.PcFirmwareHandoff"/>): PIC vector bases and masks, PIT channel 0 ticking.
    /// </summary>
    void ApplyFirmwareChipsetState();
}
