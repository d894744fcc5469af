using Actorvisor.Hardware.Devices;
using Actorvisor.Hardware.Guests;
using Actorvisor.Hardware.Images;
using Actorvisor.Hardware.Kvm;
using Actorvisor.Hardware.Machines;
using Actorvisor.Hardware.Tests.Lazy;
using Actorvisor.Hardware.X86;
using static Iced.Intel.AssemblerRegisters;

namespace Actorvisor.Hardware.Tests.Machines;

/// <summary>
/// An image asked onto KVM's PC platform finds what a PC BIOS leaves (PcFirmwareHandoff): real-mode code that halts
/// with interrupts on is woken by the PIT's IRQ 0 through the vector table's timer handler, and the test device's
/// interrupt-line ports raise IRQ 11 at the slave PIC's vector 0x73 (kvm-unit-tests' realmode and ioapic need both).
/// </summary>
public sealed class KvmPcFirmwareHandoffTests : IDisposable
{
    // Each guest needs one PIT tick (55 ms) or none; the bound only keeps a broken chipset from hanging the run.
    private static readonly TimeSpan RunTimeout = TimeSpan.FromSeconds(60);
    private readonly string _dir = Directory.CreateTempSubdirectory("actorvisor-firmware-").FullName;

    public void Dispose()
    {
        Directory.Delete(_dir, recursive: true);
        GC.SuppressFinalize(this);
    }

    private MachineResult RunRealMode(byte[] code, bool testDevice)
    {
        var path = Path.Combine(_dir, "guest.bin");
        File.WriteAllBytes(path, code);
        using var accel = KvmAccelerator.Open();
        var image = new PcPlatformImage(new FlatImageFile(path, BootMode.Real)) { TestDevice = testDevice, FirmwareHandoff = true };
        using var machine = Machine.Create(accel, new MachineSpec { Image = image, MemoryBytes = 16UL << 20, BootMode = BootMode.Real, LoadAddress = 0x7c00, Entry = 0x7c00 });
        return machine.Run(RunTimeout);
    }

    [KvmFact]
    public void A_halt_with_interrupts_on_is_woken_by_the_firmware_timer()
    {
        var code = GuestAssembler.Assemble(16, 0x7c00, g =>
        {
            g.Asm.sti();
            g.Asm.hlt(); // nothing but the PIT's IRQ 0 (vector 8, the handler's EOI) can wake this
            g.Asm.cli();
            g.Asm.mov(al, 0x2a);
            g.Asm.@out((byte)DebugExitDevice.DefaultPort, al);
            g.HaltForever();
        });
        var result = RunRealMode(code, testDevice: false);
        Assert.True(result.Outcome == MachineOutcome.Exited, $"the halt was never woken: {result}");
        Assert.Equal(0x2a, result.ResultCode);
    }

    [KvmFact]
    public void The_test_device_raises_irq_11_at_the_slave_pics_vector_0x73()
    {
        const ushort handler = 0x600;
        var code = GuestAssembler.Assemble(16, 0x7c00, g =>
        {
            var a = g.Asm;
            a.cli();
            a.xor(ax, ax);
            a.mov(ds, ax);
            // the handler at 0:0x600: mov al, 0x73; out 0xf4, al; hlt
            a.mov(__byte_ptr[handler], 0xb0);
            a.mov(__byte_ptr[handler + 1], 0x73);
            a.mov(__byte_ptr[handler + 2], 0xe6);
            a.mov(__byte_ptr[handler + 3], (byte)DebugExitDevice.DefaultPort);
            a.mov(__byte_ptr[handler + 4], 0xf4);
            a.mov(__word_ptr[0x73 * 4], handler);
            a.mov(__word_ptr[0x73 * 4 + 2], 0);
            a.mov(al, 0xfa); // the master keeps only the timer and the cascade: mask the timer too
            a.or(al, 1);
            a.@out(0x21, al);
            a.mov(al, 0xf7); // unmask IRQ 11 (slave input 3)
            a.@out(0xa1, al);
            a.mov(dx, TestDevIrqPorts.BasePort + 11);
            a.mov(al, 1);
            a.@out(dx, al);
            a.sti();
            a.hlt();
            a.mov(al, 0x01); // woken by anything else: wrong
            a.@out((byte)DebugExitDevice.DefaultPort, al);
            g.HaltForever();
        });
        var result = RunRealMode(code, testDevice: true);
        Assert.True(result.Outcome == MachineOutcome.Exited, $"IRQ 11 never arrived: {result}");
        Assert.Equal(0x73, result.ResultCode);
    }
}
