using System.Buffers.Binary;
using Actorvisor.Hardware.Accel;
using Actorvisor.Hardware.Devices;

namespace Actorvisor.Hardware.Apic;

/// <summary>
/// The xAPIC page as a device on a VM's <see cref="DeviceBus"/> (register it at <see cref="LocalApic.DefaultBase"/>,
/// <see cref="LocalApic.WindowSize"/> bytes): every vCPU sees its own APIC at the same address, so an access goes to
/// the APIC bound to the accessing vCPU thread (<see cref="LocalApicBus.BindCurrentThread"/>). Reads of 1-4 bytes
/// inside a register return its bytes; writes must be 32 bits at the register's offset (others are dropped, as in
/// KVM). An access from a thread with no APIC reads all ones and writes nothing.
/// </summary>
public sealed class ApicMmioWindow(LocalApicBus bus) : IMmioDevice
{
    private long _dropped, _unbound;

    /// <inheritdoc />
    public string Name => "local-apic";

    /// <summary>Writes that were not 32-bit aligned register writes, and reads that crossed a register.</summary>
    public long DroppedAccesses => Interlocked.Read(ref _dropped);

    /// <summary>Accesses from threads with no APIC on this bus.</summary>
    public long UnboundAccesses => Interlocked.Read(ref _unbound);

    /// <inheritdoc />
    public ExitAction OnMmio(ulong offset, bool isWrite, Span<byte> data)
    {
        var apic = bus.CurrentThreadApic;
        if (apic is null)
        {
            Interlocked.Increment(ref _unbound);
            if (!isWrite) data.Fill(0xff);
            return ExitAction.Continue;
        }
        int register = (int)(offset & ~0xfUL), within = (int)(offset & 0xf);
        if (isWrite)
        {
            if (data.Length == 4 && within == 0) apic.WriteRegister(register, BinaryPrimitives.ReadUInt32LittleEndian(data));
            else Interlocked.Increment(ref _dropped);
            return ExitAction.Continue;
        }
        if (within + data.Length > 4)
        {
            Interlocked.Increment(ref _dropped);
            data.Clear();
            return ExitAction.Continue;
        }
        uint value = apic.ReadRegister(register) >> (8 * within);
        for (int i = 0; i < data.Length; i++) data[i] = (byte)(value >> (8 * i));
        return ExitAction.Continue;
    }
}
