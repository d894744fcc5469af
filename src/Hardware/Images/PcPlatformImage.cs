using Actorvisor.Hardware.Memory;
using Actorvisor.Hardware.X86;

namespace Actorvisor.Hardware.Images;

/// <summary>
/// Any image booted on the PC platform (<see cref="GuestPlatform.Pc"/>: KVM's in-kernel PIC, IOAPIC, LAPICs and PIT,
/// fw_cfg, an interrupt-driven UART; application processors waiting for INIT-SIPI) instead of the platform its format
/// implies: how a test kernel such as kvm-unit-tests', a multiboot file, asks for the chipset it drives. Such a kernel
/// expects what a PC BIOS leaves (<see cref="X86.PcFirmwareHandoff"/>: a real-mode vector table, PICs programmed, the
/// PIT ticking), which the machine sets up for it. Owns the image it wraps (disposing it, when it is disposable) and
/// loads it unchanged.
/// </summary>
public sealed class PcPlatformImage(IBootableImage image) : IBootableImage, IDisposable
{
    /// <summary>The wrapped image.</summary>
    public IBootableImage Image { get; } = image ?? throw new ArgumentNullException(nameof(image));

    /// <summary>
    /// True to give the machine the interrupt-line ports of a PC test device (<see cref="Devices.TestDevIrqPorts"/>),
    /// which conformance kernels use to raise interrupts.
    /// </summary>
    public bool TestDevice { get; init; }

    /// <summary>
    /// True to start the kernel with what a PC BIOS leaves (<see cref="X86.PcFirmwareHandoff"/>: a real-mode vector table,
    /// the PICs at vectors 0x08/0x70 with IRQ 0 unmasked, the PIT ticking), as conformance kernels expect (`run
    /// --platform pc`). Off by default: a kernel that sets IF without reprogramming the PICs would then take the timer
    /// on vector 8, as it would after a real BIOS (the project's own PC-platform guests do that).
    /// </summary>
    public bool FirmwareHandoff { get; init; }

    /// <inheritdoc />
    public string Name => Image.Name;

    /// <inheritdoc />
    public BootMode BootMode => Image.BootMode;

    /// <inheritdoc />
    public int VcpuCount => Image.VcpuCount;

    /// <inheritdoc />
    public ulong MinimumMemoryBytes => Image.MinimumMemoryBytes;

    /// <summary>Always <see cref="GuestPlatform.Pc"/>.</summary>
    public GuestPlatform Platform => GuestPlatform.Pc;

    /// <inheritdoc />
    public LoadedImage LoadInto(HostMemory ram, ulong? loadAddress = null) => Image.LoadInto(ram, loadAddress);

    /// <summary>Disposes the wrapped image, if it holds files.</summary>
    public void Dispose() => (Image as IDisposable)?.Dispose();
}
