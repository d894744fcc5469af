using Actorvisor.Hardware.Accel;

namespace Actorvisor.Hardware.Devices;

/// <summary>
/// The PC keyboard controller (i8042) as far as a VMM needs it, registered on ports 0x60-0x64: the reset line
/// (command 0xFE on port 0x64 pulses CPU reset: <see cref="ResetRequested"/> is set and the writing vCPU stops, so
/// the machine ends with outcome "reset", Linux's reboot path), and enough of the command set that Linux's probe
/// finishes at once instead of timing out: the command byte (0x20 read, 0x60 write), the self tests (0xAA -> 0x55,
/// 0xAB/0xA9 -> 0) and the port enables, which are accepted. No keyboard or mouse is attached.
/// </summary>
public sealed class I8042Controller : IPortIoDevice
{
    /// <summary>The data port.</summary>
    public const ushort DataPort = 0x60;
    /// <summary>Ports from <see cref="DataPort"/> the device is registered for (0x60-0x64; 0x61-0x63 read all-ones).</summary>
    public const int PortCount = 5;
    /// <summary>The command written to port 0x64 that resets the CPU.</summary>
    public const byte ResetCommand = 0xfe;

    private const int Data = 0, StatusCommand = 4;
    private const byte StatusOutputFull = 0x01, StatusSystemFlag = 0x04, StatusCommandLast = 0x08;
    private const byte ReadCommandByte = 0x20, WriteCommandByte = 0x60, SelfTest = 0xaa, TestPort1 = 0xab, TestPort2 = 0xa9;

    private readonly object _gate = new();
    private byte _commandByte = 0x45; // keyboard interrupt, system flag, translation: the BIOS default
    private byte? _output;
    private byte _lastCommand;
    private int _resetRequested;

    /// <inheritdoc />
    public string Name => "i8042";

    /// <summary>True once the guest asked for a CPU reset.</summary>
    public bool ResetRequested => Volatile.Read(ref _resetRequested) != 0;

    /// <inheritdoc />
    public ExitAction OnPortIo(ushort offset, IoDirection direction, Span<byte> data)
    {
        if (data.Length != 1 || (offset != Data && offset != StatusCommand))
        {
            if (direction == IoDirection.In) data.Fill(0xff);
            return ExitAction.Continue;
        }
        lock (_gate)
        {
            if (direction == IoDirection.In)
            {
                data[0] = offset == Data ? ReadData() : Status();
                return ExitAction.Continue;
            }
            if (offset == StatusCommand) return Command(data[0]);
            if (_lastCommand == WriteCommandByte) _commandByte = data[0];
            _lastCommand = 0;
            return ExitAction.Continue;
        }
    }

    private byte Status() => (byte)((_output is null ? 0 : StatusOutputFull) | StatusSystemFlag | (_lastCommand != 0 ? StatusCommandLast : 0));

    private byte ReadData()
    {
        byte value = _output ?? 0;
        _output = null;
        return value;
    }

    private ExitAction Command(byte command)
    {
        _lastCommand = command;
        switch (command)
        {
            case ResetCommand:
                Volatile.Write(ref _resetRequested, 1);
                return ExitAction.Stop;
            case ReadCommandByte: _output = _commandByte; break;
            case SelfTest: _output = 0x55; break;
            case TestPort1: case TestPort2: _output = 0x00; break;
        }
        return ExitAction.Continue;
    }
}
