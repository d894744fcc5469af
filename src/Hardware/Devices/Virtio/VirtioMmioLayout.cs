namespace Actorvisor.Hardware.Devices.Virtio;

/// <summary>
/// Where a machine's virtio-mmio devices sit: device <c>i</c> takes the page at <see cref="Base"/> + i * 4 KiB in
/// the MMIO window and ISA interrupt <see cref="Irqs"/>[i] (edge-triggered inputs the PC's MP table declares and
/// no other Actorvisor device uses). The PC platform's ACPI DSDT announces each to Linux (Acpi.AcpiTables); a kernel
/// built with CONFIG_VIRTIO_MMIO_CMDLINE_DEVICES also takes <see cref="KernelParameter"/>.
/// </summary>
public static class VirtioMmioLayout
{
    /// <summary>The first device's window (above GuestLibrary's probe registers at 0xd000_0000).</summary>
    public const ulong Base = 0xd100_0000;

    /// <summary>The interrupts of devices 0, 1, ...: the ISA lines free on Actorvisor's PC (no LPT, floppy, ACPI or PS/2 mouse).</summary>
    public static readonly IReadOnlyList<int> Irqs = [5, 6, 7, 9, 10, 11, 12];

    /// <summary>Most virtio-mmio devices one machine can have.</summary>
    public static int MaxDevices => Irqs.Count;

    /// <summary>Device <paramref name="index"/>'s window address.</summary>
    public static ulong AddressOf(int index)
    {
        Check(index);
        return Base + (ulong)index * VirtioMmioRegister.WindowSize;
    }

    /// <summary>Device <paramref name="index"/>'s interrupt (GSI).</summary>
    public static int IrqOf(int index)
    {
        Check(index);
        return Irqs[index];
    }

    /// <summary>
    /// The kernel parameter that announces device <paramref name="index"/> to Linux: <c>virtio_mmio.device=4K@ADDR:IRQ</c>.
    /// Only a kernel built with CONFIG_VIRTIO_MMIO_CMDLINE_DEVICES understands it.
    /// </summary>
    public static string KernelParameter(int index) => $"virtio_mmio.device=4K@0x{AddressOf(index):x}:{IrqOf(index)}";

    private static void Check(int index)
    {
        if ((uint)index >= (uint)Irqs.Count)
            throw new ArgumentOutOfRangeException(nameof(index), index, $"a machine has at most {Irqs.Count} virtio-mmio devices");
    }
}
