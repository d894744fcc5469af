using Actorvisor.Hardware.Accel;

namespace Actorvisor.Hardware.Devices;

/// <summary>
/// A transmit-only 16550A UART (the PC's COM ports): what a guest needs to print to a serial console.
/// Bytes written to THR go straight to an <see cref="IConsoleSink"/>; the transmitter is always ready
/// (LSR reads THRE|TEMT), no byte is ever received, and no interrupt is ever raised (IIR reads "none").
/// The configuration registers (IER, LCR, MCR, SCR, the DLAB divisor latch) store what is written and read
/// it back, so that guests which program the port the usual way (Linux's 8250 driver, firmware) see a UART.
/// </summary>
public sealed class Uart16550 : IPortIoDevice
{
    /// <summary>COM1's base port.</summary>
    public const ushort Com1Port = 0x3f8;
    /// <summary>Number of ports a 16550 decodes.</summary>
    public const int PortCount = 8;

    /// <summary>Line status register value: THR empty (bit 5) and transmitter empty (bit 6).</summary>
    public const byte LsrValue = 0x60;
    /// <summary>Interrupt identification value with FIFOs off: bit 0 set = no interrupt pending.</summary>
    public const byte IirNoInterrupt = 0x01;
    /// <summary>Modem status: CTS, DSR and DCD asserted, as if a terminal were attached.</summary>
    public const byte MsrValue = 0xb0;

    // Register offsets (the 16550 data sheet's numbering).
    private const int RbrThrDll = 0, IerDlm = 1, IirFcr = 2, Lcr = 3, Mcr = 4, Lsr = 5, Msr = 6, Scr = 7;
    private const byte LcrDlab = 0x80;
    private const byte FcrEnable = 0x01;
    private const byte IirFifosEnabled = 0xc0;

    private readonly object _gate = new();
    private readonly IConsoleSink _sink;
    private byte _ier, _lcr, _mcr, _scr, _fcr;
    private byte _dll = 0x0c, _dlm; // 9600 baud divisor at reset, like real hardware and QEMU
    private long _transmitted;

    /// <summary>A UART that sends what the guest transmits to <paramref name="sink"/>.</summary>
    public Uart16550(IConsoleSink sink, string name = "com1")
    {
        _sink = sink ?? throw new ArgumentNullException(nameof(sink));
        ArgumentException.ThrowIfNullOrEmpty(name);
        Name = name;
    }

    /// <inheritdoc />
    public string Name { get; }

    /// <summary>Bytes the guest has transmitted.</summary>
    public long BytesTransmitted => Interlocked.Read(ref _transmitted);

    /// <summary>The divisor latch (DLM:DLL) the guest programmed.</summary>
    public ushort Divisor
    {
        get { lock (_gate) return (ushort)(_dlm << 8 | _dll); }
    }

    /// <inheritdoc />
    public ExitAction OnPortIo(ushort offset, IoDirection direction, Span<byte> data)
    {
        // A wide access to an 8-bit ISA device is split into byte accesses at consecutive ports.
        for (int i = 0; i < data.Length; i++)
        {
            int reg = offset + i;
            if (direction == IoDirection.In) data[i] = reg < PortCount ? ReadRegister(reg) : (byte)0xff;
            else if (reg < PortCount) WriteRegister(reg, data[i]);
        }
        return ExitAction.Continue;
    }

    private byte ReadRegister(int reg)
    {
        lock (_gate)
        {
            bool dlab = (_lcr & LcrDlab) != 0;
            return reg switch
            {
                RbrThrDll => dlab ? _dll : (byte)0, // nothing is ever received
                IerDlm => dlab ? _dlm : _ier,
                IirFcr => (_fcr & FcrEnable) != 0 ? (byte)(IirNoInterrupt | IirFifosEnabled) : IirNoInterrupt,
                Lcr => _lcr,
                Mcr => _mcr,
                Lsr => LsrValue,
                Msr => MsrValue,
                _ => _scr,
            };
        }
    }

    private void WriteRegister(int reg, byte value)
    {
        if (reg == RbrThrDll)
        {
            bool dlab;
            lock (_gate)
            {
                dlab = (_lcr & LcrDlab) != 0;
                if (dlab) _dll = value;
            }
            if (!dlab)
            {
                Interlocked.Increment(ref _transmitted);
                _sink.Write(new ReadOnlySpan<byte>(in value));
            }
            return;
        }
        lock (_gate)
        {
            switch (reg)
            {
                case IerDlm:
                    if ((_lcr & LcrDlab) != 0) _dlm = value;
                    else _ier = (byte)(value & 0x0f); // the upper IER bits are reserved and read as zero
                    break;
                case IirFcr: _fcr = value; break;
                case Lcr: _lcr = value; break;
                case Mcr: _mcr = (byte)(value & 0x1f); break; // bits 5-7 are reserved on a 16550
                case Lsr: case Msr: break; // read-only status registers
                case Scr: _scr = value; break;
            }
        }
    }
}
