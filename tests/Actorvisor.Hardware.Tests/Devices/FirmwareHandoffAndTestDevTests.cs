using Actorvisor.Hardware.Accel;
using Actorvisor.Hardware.Devices;
using Actorvisor.Hardware.Memory;
using Actorvisor.Hardware.X86;

namespace Actorvisor.Hardware.Tests.Devices;

/// <summary>The test device's interrupt-line ports and the real-mode vector table a PC BIOS would leave.</summary>
public sealed class FirmwareHandoffAndTestDevTests
{
    [Fact]
    public void A_write_to_a_line_port_sets_that_line_to_whether_the_value_is_nonzero()
    {
        var lines = new RecordingIrqLines();
        var bus = new DeviceBus();
        bus.RegisterPorts(TestDevIrqPorts.BasePort, TestDevIrqPorts.LineCount, new TestDevIrqPorts(lines));
        bus.OnPortIo(TestDevIrqPorts.BasePort + 11, IoDirection.Out, [1, 0, 0, 0]);
        bus.OnPortIo(TestDevIrqPorts.BasePort + 11, IoDirection.Out, [0, 0, 0, 0]);
        bus.OnPortIo(TestDevIrqPorts.BasePort + 4, IoDirection.Out, [0x80]);
        Assert.Equal([(11, true), (11, false), (4, true)], lines.Changes);
        var read = new byte[] { 0xff };
        bus.OnPortIo(TestDevIrqPorts.BasePort + 4, IoDirection.In, read);
        Assert.Equal(0, read[0]);
    }

    [Fact]
    public void Every_vector_returns_at_once_except_the_timers_which_acknowledges_the_pic()
    {
        using var ram = HostMemory.Allocate(1UL << 20);
        PcFirmwareHandoff.WriteInto(ram);
        var ivt = new byte[256 * 4];
        ram.Read(0, ivt);
        for (int vector = 0; vector < 256; vector++)
        {
            ushort offset = BitConverter.ToUInt16(ivt, vector * 4), segment = BitConverter.ToUInt16(ivt, vector * 4 + 2);
            Assert.Equal(PcFirmwareHandoff.HandlerSegment, segment);
            Assert.Equal(vector == 8 ? PcFirmwareHandoff.TimerHandlerOffset : PcFirmwareHandoff.IretOffset, offset);
        }
        var iret = new byte[1];
        ram.Read(0xf_0000UL + PcFirmwareHandoff.IretOffset, iret);
        Assert.Equal(0xcf, iret[0]);
        var timer = new byte[7];
        ram.Read(0xf_0000UL + PcFirmwareHandoff.TimerHandlerOffset, timer);
        Assert.Equal(new byte[] { 0x50, 0xb0, 0x20, 0xe6, 0x20, 0x58, 0xcf }, timer); // push ax; mov al,0x20; out 0x20,al; pop ax; iret
    }

    private sealed class RecordingIrqLines : IIrqLines
    {
        public List<(int Irq, bool Asserted)> Changes { get; } = [];

        public void SetIrqLevel(int irq, bool asserted) => Changes.Add((irq, asserted));
    }
}
