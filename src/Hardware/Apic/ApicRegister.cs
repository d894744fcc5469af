namespace Actorvisor.Hardware.Apic;

/// <summary>
/// Offsets of the xAPIC registers in the 4 KiB MMIO page at <see cref="LocalApic.DefaultBase"/> (Intel SDM vol. 3,
/// table 11-1). Each register is 32 bits at a 16-byte aligned offset; the 256-bit ISR, TMR and IRR are eight such
/// registers each.
/// </summary>
public static class ApicRegister
{
    /// <summary>Local APIC ID (bits 31:24).</summary>
    public const int Id = 0x20;
    /// <summary>Version (read-only): version 0x14, max LVT entry in bits 23:16.</summary>
    public const int Version = 0x30;
    /// <summary>Task priority.</summary>
    public const int Tpr = 0x80;
    /// <summary>Arbitration priority (read-only).</summary>
    public const int Apr = 0x90;
    /// <summary>Processor priority (read-only).</summary>
    public const int Ppr = 0xa0;
    /// <summary>End of interrupt (write-only).</summary>
    public const int Eoi = 0xb0;
    /// <summary>Logical destination (bits 31:24).</summary>
    public const int Ldr = 0xd0;
    /// <summary>Destination format (bits 31:28: 0xf flat, 0x0 cluster).</summary>
    public const int Dfr = 0xe0;
    /// <summary>Spurious-interrupt vector: vector in bits 7:0, APIC software enable in bit 8.</summary>
    public const int Svr = 0xf0;
    /// <summary>First of the eight in-service registers.</summary>
    public const int Isr = 0x100;
    /// <summary>First of the eight trigger-mode registers.</summary>
    public const int Tmr = 0x180;
    /// <summary>First of the eight interrupt-request registers.</summary>
    public const int Irr = 0x200;
    /// <summary>Error status (a write latches the errors seen since the last write).</summary>
    public const int Esr = 0x280;
    /// <summary>Interrupt command, low half: writing it sends the IPI.</summary>
    public const int IcrLow = 0x300;
    /// <summary>Interrupt command, high half: destination in bits 31:24.</summary>
    public const int IcrHigh = 0x310;
    /// <summary>LVT timer: vector, delivery status (bit 12), mask (bit 16), mode (bits 18:17).</summary>
    public const int LvtTimer = 0x320;
    /// <summary>LVT thermal sensor.</summary>
    public const int LvtThermal = 0x330;
    /// <summary>LVT performance counters.</summary>
    public const int LvtPerf = 0x340;
    /// <summary>LVT LINT0.</summary>
    public const int LvtLint0 = 0x350;
    /// <summary>LVT LINT1.</summary>
    public const int LvtLint1 = 0x360;
    /// <summary>LVT error.</summary>
    public const int LvtError = 0x370;
    /// <summary>Timer initial count: writing it (re)starts the timer, 0 stops it.</summary>
    public const int TimerInitialCount = 0x380;
    /// <summary>Timer current count (read-only).</summary>
    public const int TimerCurrentCount = 0x390;
    /// <summary>Timer divide configuration (bits 0, 1 and 3).</summary>
    public const int TimerDivide = 0x3e0;
}
