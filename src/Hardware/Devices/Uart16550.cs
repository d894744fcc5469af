using Actorvisor.Hardware.Accel;
using Actorvisor.Hardware.Snapshots;

namespace Actorvisor.Hardware.Devices;

/// <summary>
/// A 16550A UART (the PC's COM ports): the serial console. Bytes written to THR go straight to an
/// <see cref="IConsoleSink"/> (the transmitter is always ready: LSR has THRE|TEMT); bytes fed with
/// <see cref="Feed"/> are received (LSR.DR, RBR). The interrupt logic is the data sheet's: IER enables the
/// received-data, THR-empty and modem-status interrupts, IIR reports the highest pending one (reading it clears a
/// THR-empty interrupt, writing THR clears and, the byte being sent at once, raises it again), and with an
/// <see cref="IIrqLines"/> the UART drives its IRQ (4 on COM1) to the pending state, an edge per event. Without
/// one it is the polled UART every Actorvisor guest prints with. MCR loopback routes THR to the receiver and
/// the modem control bits to MSR, as Linux's 8250 probe checks. The configuration registers (LCR, SCR, the DLAB
/// divisor latch) store what is written and read it back.
/// </summary>
public sealed class Uart16550 : IPortIoDevice, IStatefulDevice
{
    /// <summary>COM1's base port.</summary>
    public const ushort Com1Port = 0x3f8;
    /// <summary>COM1's ISA interrupt.</summary>
    public const int Com1Irq = 4;
    /// <summary>Number of ports a 16550 decodes.</summary>
    public const int PortCount = 8;
    /// <summary>Line status register value with nothing received: THR empty (bit 5) and transmitter empty (bit 6).</summary>
    public const byte LsrValue = 0x60;
    /// <summary>Interrupt identification value with FIFOs off: bit 0 set = no interrupt pending.</summary>
    public const byte IirNoInterrupt = 0x01;
    /// <summary>Modem status: CTS, DSR and DCD asserted, as if a terminal were attached.</summary>
    public const byte MsrValue = 0xb0;
    /// <summary>Most received bytes waiting for the guest; <see cref="Feed"/> takes no more.</summary>
    public const int ReceiveCapacity = 4096;

    // Register offsets (the 16550 data sheet's numbering).
    private const int RbrThrDll = 0, IerDlm = 1, IirFcr = 2, Lcr = 3, Mcr = 4, Lsr = 5, Msr = 6, Scr = 7;
    private const byte LcrDlab = 0x80;
    private const byte FcrEnable = 0x01, FcrClearReceive = 0x02;
    private const byte IirFifosEnabled = 0xc0;
    private const byte IerReceivedData = 0x01, IerThrEmpty = 0x02, IerModemStatus = 0x08;
    private const byte IirModemStatus = 0x00, IirThrEmpty = 0x02, IirReceivedData = 0x04;
    private const byte LsrDataReady = 0x01;
    private const byte McrLoopback = 0x10;

    private readonly object _gate = new();
    private readonly IConsoleSink _sink;
    private readonly IIrqLines? _irqLines;
    private readonly int _irq;
    private readonly Queue<byte> _received = new();
    private byte _ier, _lcr, _mcr, _scr, _fcr;
    private byte _dll = 0x0c, _dlm; // 9600 baud divisor at reset, like real hardware and QEMU
    private bool _thrEmptyPending;
    private bool _modemStatusChanged;
    private bool _lineAsserted;
    private long _transmitted;
    private long _interrupts;

    /// <summary>A polled UART that sends what the guest transmits to <paramref name="sink"/>.</summary>
    public Uart16550(IConsoleSink sink, string name = "com1") : this(sink, null, Com1Irq, name) { }

    /// <summary>A UART that also raises <paramref name="irq"/> on <paramref name="irqLines"/> (null: polled only).</summary>
    public Uart16550(IConsoleSink sink, IIrqLines? irqLines, int irq, string name = "com1")
    {
        _sink = sink ?? throw new ArgumentNullException(nameof(sink));
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentOutOfRangeException.ThrowIfNegative(irq);
        _irqLines = irqLines;
        _irq = irq;
        Name = name;
    }

    /// <inheritdoc />
    public string Name { get; }

    /// <summary>Bytes the guest has transmitted.</summary>
    public long BytesTransmitted => Interlocked.Read(ref _transmitted);

    /// <summary>Times the UART raised its interrupt line (0 -> 1 changes).</summary>
    public long InterruptsRaised => Interlocked.Read(ref _interrupts);

    /// <summary>The divisor latch (DLM:DLL) the guest programmed.</summary>
    public ushort Divisor
    {
        get { lock (_gate) return (ushort)(_dlm << 8 | _dll); }
    }

    /// <summary>Bytes received and not yet read by the guest.</summary>
    public int PendingInput
    {
        get { lock (_gate) return _received.Count; }
    }

    /// <summary>
    /// Console input: queues <paramref name="bytes"/> for the guest to receive (raising the received-data
    /// interrupt if enabled). Returns how many were taken: all, unless <see cref="ReceiveCapacity"/> is reached.
    /// Callable from any thread.
    /// </summary>
    public int Feed(ReadOnlySpan<byte> bytes)
    {
        lock (_gate)
        {
            int taken = 0;
            while (taken < bytes.Length && _received.Count < ReceiveCapacity) _received.Enqueue(bytes[taken++]);
            UpdateLine();
            return taken;
        }
    }

    /// <summary>The registers (IER, LCR, MCR, SCR, FCR, the divisor latch), the pending-interrupt flags and the bytes received and not yet read.</summary>
    public byte[] SaveState()
    {
        var w = new StateBlobWriter("U550", 1);
        lock (_gate)
        {
            foreach (byte b in (byte[])[_ier, _lcr, _mcr, _scr, _fcr, _dll, _dlm]) w.U8(b);
            w.Bool(_thrEmptyPending);
            w.Bool(_modemStatusChanged);
            w.Bytes([.. _received]);
        }
        return w.ToArray();
    }

    /// <summary>Loads what <see cref="SaveState"/> saved and drives the IRQ line (if any) to match.</summary>
    public void RestoreState(ReadOnlySpan<byte> state)
    {
        var r = new StateBlobReader(state, "U550", 1, $"{Name} (16550 UART) state");
        lock (_gate)
        {
            (_ier, _lcr, _mcr, _scr, _fcr, _dll, _dlm) = (r.U8(), r.U8(), r.U8(), r.U8(), r.U8(), r.U8(), r.U8());
            _thrEmptyPending = r.Bool();
            _modemStatusChanged = r.Bool();
            var received = r.Bytes();
            r.End();
            _received.Clear();
            foreach (byte b in received) _received.Enqueue(b);
            UpdateLine();
        }
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
            byte value = reg switch
            {
                RbrThrDll => dlab ? _dll : Receive(),
                IerDlm => dlab ? _dlm : _ier,
                IirFcr => ReadIir(),
                Lcr => _lcr,
                Mcr => _mcr,
                Lsr => (byte)(LsrValue | (_received.Count > 0 ? LsrDataReady : 0)),
                Msr => ReadMsr(),
                _ => _scr,
            };
            UpdateLine();
            return value;
        }
    }

    private byte Receive() => _received.TryDequeue(out var b) ? b : (byte)0;

    private byte ReadIir()
    {
        byte id = PendingInterrupt();
        if (id == IirThrEmpty) _thrEmptyPending = false; // reading IIR acknowledges a THR-empty interrupt
        return (byte)(id | ((_fcr & FcrEnable) != 0 ? IirFifosEnabled : 0));
    }

    private byte ReadMsr()
    {
        _modemStatusChanged = false;
        if ((_mcr & McrLoopback) == 0) return MsrValue;
        // Loopback: RTS -> CTS, DTR -> DSR, OUT1 -> RI, OUT2 -> DCD.
        return (byte)(((_mcr & 0x02) << 3) | ((_mcr & 0x01) << 5) | ((_mcr & 0x04) << 4) | ((_mcr & 0x08) << 4));
    }

    // The highest-priority pending interrupt's IIR code, or IirNoInterrupt.
    private byte PendingInterrupt()
    {
        if ((_ier & IerReceivedData) != 0 && _received.Count > 0) return IirReceivedData;
        if ((_ier & IerThrEmpty) != 0 && _thrEmptyPending) return IirThrEmpty;
        if ((_ier & IerModemStatus) != 0 && _modemStatusChanged) return IirModemStatus;
        return IirNoInterrupt;
    }

    private void WriteRegister(int reg, byte value)
    {
        lock (_gate)
        {
            switch (reg)
            {
                case RbrThrDll when (_lcr & LcrDlab) != 0:
                    _dll = value;
                    break;
                case RbrThrDll:
                    Transmit(value);
                    break;
                case IerDlm when (_lcr & LcrDlab) != 0:
                    _dlm = value;
                    break;
                case IerDlm:
                    byte ier = (byte)(value & 0x0f); // the upper IER bits are reserved and read as zero
                    // Enabling the THR-empty interrupt while THR is empty (always, here) raises it at once.
                    if ((ier & IerThrEmpty) != 0 && (_ier & IerThrEmpty) == 0) _thrEmptyPending = true;
                    _ier = ier;
                    break;
                case IirFcr:
                    _fcr = value;
                    if ((value & FcrClearReceive) != 0) _received.Clear();
                    break;
                case Lcr: _lcr = value; break;
                case Mcr:
                    byte mcr = (byte)(value & 0x1f); // bits 5-7 are reserved on a 16550
                    if (((mcr ^ _mcr) & McrLoopback) != 0) _modemStatusChanged = true;
                    _mcr = mcr;
                    break;
                case Lsr: case Msr: break; // read-only status registers
                case Scr: _scr = value; break;
            }
            UpdateLine();
        }
    }

    // Called under the gate. Writing THR acknowledges a THR-empty interrupt; the byte leaves at once, so THR is
    // empty again: the line drops and rises, one edge per byte as on real hardware.
    private void Transmit(byte value)
    {
        _thrEmptyPending = false;
        UpdateLine();
        if ((_mcr & McrLoopback) != 0)
        {
            if (_received.Count < ReceiveCapacity) _received.Enqueue(value);
        }
        else
        {
            Interlocked.Increment(ref _transmitted);
            _sink.Write(new ReadOnlySpan<byte>(in value));
        }
        _thrEmptyPending = true;
    }

    // Called under the gate: drives the IRQ line to "an interrupt is pending".
    private void UpdateLine()
    {
        if (_irqLines is null) return;
        bool assert = PendingInterrupt() != IirNoInterrupt;
        if (assert == _lineAsserted) return;
        _lineAsserted = assert;
        if (assert) Interlocked.Increment(ref _interrupts);
        _irqLines.SetIrqLevel(_irq, assert);
    }
}
