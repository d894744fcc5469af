namespace Actorvisor.Hardware.Acpi;

/// <summary>
/// What Actorvisor's ACPI tables describe of one PC-platform machine: its processors (LAPIC id = vCPU index), the
/// IOAPIC's id and the virtio-mmio transports (window and interrupt of each), as the MP table describes the first two.
/// </summary>
/// <param name="VcpuCount">Processors, 1..254.</param>
/// <param name="IoApicId">The IOAPIC's APIC id.</param>
/// <param name="VirtioMmioDevices">Each transport's 4 KiB window address and GSI, in device order.</param>
public sealed record AcpiSystemDescription(int VcpuCount, byte IoApicId, IReadOnlyList<(ulong Address, int Irq)> VirtioMmioDevices);
