using Actorvisor.Hardware.Accel;
using Actorvisor.Hardware.Devices;

namespace Actorvisor.Hardware.Tests.Devices;

/// <summary>The 16550's interrupt logic and receiver, with a recording interrupt controller.</summary>
public sealed class UartInterruptTests
{
    private readonly CapturingConsoleSink _sink = new();
    private readonly RecordingIrqLines _lines = new();
    private readonly Uart16550 _uart;

    public UartInterruptTests() => _uart = new Uart16550(_sink, _lines, Uart16550.Com1Irq);

    private byte In(int reg)
    {
        var b = new byte[1];
        _uart.OnPortIo((ushort)reg, IoDirection.In, b);
        return b[0];
    }

    private void Out(int reg, byte value) => _uart.OnPortIo((ushort)reg, IoDirection.Out, [value]);

    [Fact]
    public void Enabling_the_thr_empty_interrupt_raises_irq_4_and_reading_iir_clears_it()
    {
        Out(1, 0x02); // IER: THR empty
        Assert.Equal([(4, true)], _lines.Changes);
        Assert.Equal(0x02, In(2)); // IIR: THR empty pending
        Assert.Equal([(4, true), (4, false)], _lines.Changes);
        Assert.Equal(0x01, In(2)); // acknowledged: nothing pending
    }

    [Fact]
    public void Each_byte_written_gives_one_new_thr_empty_edge()
    {
        Out(1, 0x02);
        In(2); // acknowledge the first
        foreach (var c in "abc"u8.ToArray())
        {
            Out(0, c);
            Assert.Equal(0x02, In(2));
        }
        Assert.Equal("abc", _sink.Text);
        Assert.Equal(4, _uart.InterruptsRaised); // the enable, then one per byte
        Assert.Equal(4, _lines.Changes.Count(c => c.Asserted));
    }

    [Fact]
    public void Fed_bytes_are_received_with_data_ready_and_the_received_data_interrupt()
    {
        Out(1, 0x01); // IER: received data
        Assert.Empty(_lines.Changes);
        Assert.Equal(2, _uart.Feed("hi"u8));
        Assert.Equal([(4, true)], _lines.Changes);
        Assert.Equal(0x61, In(5)); // LSR: DR | THRE | TEMT
        Assert.Equal(0x04, In(2)); // IIR: received data
        Assert.Equal((byte)'h', In(0));
        Assert.Equal((byte)'i', In(0));
        Assert.Equal(0x60, In(5));
        Assert.Equal(0x01, In(2));
        Assert.Equal([(4, true), (4, false)], _lines.Changes);
    }

    [Fact]
    public void Received_data_outranks_thr_empty_in_iir()
    {
        Out(1, 0x03);
        _uart.Feed("x"u8);
        Assert.Equal(0x04, In(2));
        In(0);
        Assert.Equal(0x02, In(2));
    }

    [Fact]
    public void Loopback_routes_modem_control_to_status_and_transmit_to_receive()
    {
        Out(4, 0x10 | 0x0a); // MCR: loopback, OUT2, RTS
        Assert.Equal(0x90, In(6) & 0xf0); // DCD (from OUT2) and CTS (from RTS): Linux's 8250 probe checks exactly this
        Out(0, 0x5a);
        Assert.Equal("", _sink.Text);
        Assert.Equal(0x5a, In(0));
        Out(4, 0x0b);
        Assert.Equal(Uart16550.MsrValue, In(6));
    }

    [Fact]
    public void The_receive_queue_has_a_limit_and_fifo_reset_empties_it()
    {
        var big = new byte[Uart16550.ReceiveCapacity + 10];
        Assert.Equal(Uart16550.ReceiveCapacity, _uart.Feed(big));
        Out(2, 0x03); // FCR: enable, clear receive
        Assert.Equal(0, _uart.PendingInput);
    }

    private sealed class RecordingIrqLines : IIrqLines
    {
        public List<(int Irq, bool Asserted)> Changes { get; } = [];

        public void SetIrqLevel(int irq, bool asserted) => Changes.Add((irq, asserted));
    }
}
