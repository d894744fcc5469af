using Actorvisor.Hardware.Accel;
using Actorvisor.Hardware.Devices;

namespace Actorvisor.Hardware.Tests.Devices;

public sealed class Uart16550Tests
{
    private readonly CapturingConsoleSink _sink = new();
    private readonly DeviceBus _bus = new();
    private readonly Uart16550 _uart;

    public Uart16550Tests()
    {
        _uart = new Uart16550(_sink);
        _bus.RegisterPorts(Uart16550.Com1Port, Uart16550.PortCount, _uart);
    }

    private byte In(ushort port)
    {
        var b = new byte[1];
        _bus.OnPortIo(port, IoDirection.In, b);
        return b[0];
    }

    private void Out(ushort port, byte value) => _bus.OnPortIo(port, IoDirection.Out, new[] { value });

    [Fact]
    public void Bytes_written_to_THR_reach_the_console_in_order()
    {
        foreach (char c in "Hi there\n") Out(0x3f8, (byte)c);
        Assert.Equal("Hi there\n", _sink.Text);
        Assert.Equal(9, _uart.BytesTransmitted);
    }

    [Fact]
    public void Status_registers_say_ready_and_no_interrupt()
    {
        Assert.Equal(0x60, In(0x3fd));
        Assert.Equal(0x01, In(0x3fa));
        Assert.Equal(0xb0, In(0x3fe));
        Assert.Equal(0, In(0x3f8)); // nothing received
        Out(0x3fd, 0x00); // LSR is read-only
        Assert.Equal(0x60, In(0x3fd));
    }

    [Fact]
    public void Enabling_fifos_shows_in_IIR()
    {
        Out(0x3fa, 0x07); // FCR: enable and clear FIFOs
        Assert.Equal(0xc1, In(0x3fa));
        Out(0x3fa, 0x00);
        Assert.Equal(0x01, In(0x3fa));
    }

    [Fact]
    public void Configuration_registers_read_back()
    {
        Out(0x3f9, 0x05); // IER
        Out(0x3fb, 0x03); // LCR 8N1
        Out(0x3fc, 0x0b); // MCR DTR|RTS|OUT2
        Out(0x3ff, 0xa5); // SCR
        Assert.Equal(0x05, In(0x3f9));
        Assert.Equal(0x03, In(0x3fb));
        Assert.Equal(0x0b, In(0x3fc));
        Assert.Equal(0xa5, In(0x3ff));
        Out(0x3f9, 0xff);
        Assert.Equal(0x0f, In(0x3f9)); // reserved IER bits read as zero
    }

    [Fact]
    public void Divisor_latch_is_reached_through_DLAB_and_does_not_print()
    {
        Out(0x3fb, 0x83); // DLAB + 8N1
        Out(0x3f8, 0x01); // DLL: 115200 baud
        Out(0x3f9, 0x00); // DLM
        Assert.Equal(0x01, In(0x3f8));
        Assert.Equal(0x00, In(0x3f9));
        Assert.Equal(1, _uart.Divisor);
        Assert.Equal("", _sink.Text);
        Out(0x3fb, 0x03); // DLAB off: offset 0 is THR again, offset 1 IER
        Assert.Equal(0x00, In(0x3f9));
        Out(0x3f8, (byte)'x');
        Assert.Equal("x", _sink.Text);
    }

    [Fact]
    public void A_word_write_is_split_into_byte_accesses()
    {
        // OUT DX, AX at 0x3f8 writes THR (low byte) and IER (high byte), like a 16-bit access on an ISA bus.
        _bus.OnPortIo(0x3f8, IoDirection.Out, new byte[] { (byte)'A', 0x01 });
        Assert.Equal("A", _sink.Text);
        Assert.Equal(0x01, In(0x3f9));
    }

    [Fact]
    public void Concurrent_writers_lose_no_bytes()
    {
        const int perThread = 5000;
        var threads = Enumerable.Range(0, 4).Select(t => new Thread(() =>
        {
            for (int i = 0; i < perThread; i++) Out(0x3f8, (byte)('a' + t));
        })).ToList();
        threads.ForEach(t => t.Start());
        threads.ForEach(t => t.Join());
        Assert.Equal(4 * perThread, _uart.BytesTransmitted);
        var text = _sink.Text;
        for (int t = 0; t < 4; t++) Assert.Equal(perThread, text.Count(c => c == 'a' + t));
    }
}
