using Actorvisor.Hardware.Memory;

namespace Actorvisor.Hardware.X86;

/// <summary>
/// What a PC BIOS leaves behind when it hands a kernel the machine and that a kernel written for a BIOS-booted PC
/// (a multiboot test kernel that drops back to real mode, such as kvm-unit-tests' realmode) may count on, without a
/// BIOS: a real-mode interrupt vector table whose every vector returns at once (IRET) except the timer's
/// (<see cref="TimerVector"/>: the master PIC's IRQ 0), which acknowledges the PIC first; and the chipset settings
/// the VM applies (<see cref="Accel.IPcPlatformVm.ApplyFirmwareChipsetState"/>): PICs at vectors
/// <see cref="MasterPicBase"/>/<see cref="SlavePicBase"/> with only IRQ 0 and the cascade unmasked, PIT channel 0
/// ticking at 18.2 Hz. Owns the layout of the handlers in the BIOS area and writes them.
/// </summary>
public static class PcFirmwareHandoff
{
    /// <summary>The master PIC's vector base (IRQ 0-7 at 0x08-0x0f), as a PC BIOS programs it.</summary>
    public const byte MasterPicBase = 0x08;

    /// <summary>The slave PIC's vector base (IRQ 8-15 at 0x70-0x77).</summary>
    public const byte SlavePicBase = 0x70;

    /// <summary>The master PIC's mask: IRQ 0 (timer) and IRQ 2 (the cascade) unmasked.</summary>
    public const byte MasterPicMask = 0xfa;

    /// <summary>The slave PIC's mask: everything masked.</summary>
    public const byte SlavePicMask = 0xff;

    /// <summary>PIT channel 0's reload value: 0 means 65,536, 1.193182 MHz / 65,536 = 18.2 Hz.</summary>
    public const uint PitReload = 0x1_0000;

    /// <summary>The timer's real-mode vector (IRQ 0 on the master PIC).</summary>
    public const int TimerVector = MasterPicBase;

    /// <summary>Segment of the handlers (in the BIOS area the e820 map reserves, 0xf0000).</summary>
    public const ushort HandlerSegment = 0xf000;

    /// <summary>Offset in <see cref="HandlerSegment"/> of the IRET every vector but the timer's points at.</summary>
    public const ushort IretOffset = 0xff00;

    /// <summary>Offset in <see cref="HandlerSegment"/> of the timer handler.</summary>
    public const ushort TimerHandlerOffset = 0xff10;

    /// <summary>IRET.</summary>
    public static ReadOnlySpan<byte> IretHandler => [0xcf];

    /// <summary>push ax; mov al, 0x20; out 0x20, al (non-specific EOI to the master PIC); pop ax; iret.</summary>
    public static ReadOnlySpan<byte> TimerHandler => [0x50, 0xb0, 0x20, 0xe6, 0x20, 0x58, 0xcf];

    /// <summary>Writes the handlers and the 256-entry vector table at 0 into <paramref name="ram"/> (guest RAM from 0).</summary>
    public static void WriteInto(HostMemory ram)
    {
        ArgumentNullException.ThrowIfNull(ram);
        ulong handlers = (ulong)HandlerSegment << 4;
        ram.Write(handlers + IretOffset, IretHandler);
        ram.Write(handlers + TimerHandlerOffset, TimerHandler);
        var ivt = new byte[256 * 4];
        for (int vector = 0; vector < 256; vector++)
        {
            ushort offset = vector == TimerVector ? TimerHandlerOffset : IretOffset;
            BitConverter.TryWriteBytes(ivt.AsSpan(vector * 4), offset);
            BitConverter.TryWriteBytes(ivt.AsSpan(vector * 4 + 2), HandlerSegment);
        }
        ram.Write(GuestLayout.IvtBase, ivt);
    }
}
