namespace Actorvisor.Hardware.X86;

/// <summary>The platform a guest is built for: which devices and firmware tables the machine gives it.</summary>
public enum GuestPlatform
{
    /// <summary>Actorvisor's own guests: RAM, a polled UART on COM1 and the debug-exit port; no interrupt controller.</summary>
    Minimal,
    /// <summary>
    /// A PC as Linux expects it (KVM only): the in-kernel PIC, IOAPIC, LAPICs and PIT, an MP table, CPUID with the
    /// KVM paravirtual leaves, an interrupt-driven UART, i8042 reset, CMOS/RTC, PCI configuration ports and fw_cfg.
    /// Application processors wait for INIT-SIPI.
    /// </summary>
    Pc,
}
