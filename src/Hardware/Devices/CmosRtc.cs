using Actorvisor.Hardware.Accel;

namespace Actorvisor.Hardware.Devices;

/// <summary>
/// The PC's CMOS RAM and real-time clock on ports 0x70 (index; bit 7 masks NMI) and 0x71 (data). The clock
/// registers read the host's UTC time in BCD, 24-hour mode (status B = 0x02), never "update in progress"; status D
/// says the battery is good. The other 114 bytes of CMOS RAM store what the guest writes.
/// </summary>
public sealed class CmosRtc : IPortIoDevice
{
    /// <summary>The index port.</summary>
    public const ushort IndexPort = 0x70;
    /// <summary>Index and data.</summary>
    public const int PortCount = 2;

    private const int Seconds = 0x00, Minutes = 0x02, Hours = 0x04, DayOfWeek = 0x06, DayOfMonth = 0x07, Month = 0x08, Year = 0x09;
    private const int StatusA = 0x0a, StatusB = 0x0b, StatusC = 0x0c, StatusD = 0x0d, Century = 0x32;

    private readonly object _gate = new();
    private readonly Func<DateTime> _now;
    private readonly byte[] _ram = new byte[128];
    private int _index;

    /// <summary>A CMOS whose clock reads <paramref name="utcNow"/> (default: the host's UTC time).</summary>
    public CmosRtc(Func<DateTime>? utcNow = null)
    {
        _now = utcNow ?? (() => DateTime.UtcNow);
        _ram[StatusA] = 0x26; // 32.768 kHz time base, 1024 Hz periodic rate
        _ram[StatusB] = 0x02; // 24-hour, BCD, no interrupts
        _ram[StatusD] = 0x80; // valid RAM and time
    }

    /// <inheritdoc />
    public string Name => "cmos-rtc";

    /// <inheritdoc />
    public ExitAction OnPortIo(ushort offset, IoDirection direction, Span<byte> data)
    {
        lock (_gate)
        {
            for (int i = 0; i < data.Length; i++)
            {
                int port = offset + i;
                if (direction == IoDirection.Out)
                {
                    if (port == 0) _index = data[i] & 0x7f;
                    else if (port == 1 && _index is not (StatusC or StatusD) && !IsClock(_index)) _ram[_index] = data[i];
                }
                else
                {
                    data[i] = port == 0 ? (byte)0xff : Read(_index);
                }
            }
        }
        return ExitAction.Continue;
    }

    private static bool IsClock(int index) => index is Seconds or Minutes or Hours or DayOfWeek or DayOfMonth or Month or Year or Century;

    private byte Read(int index)
    {
        if (!IsClock(index)) return _ram[index];
        var t = _now();
        int value = index switch
        {
            Seconds => t.Second,
            Minutes => t.Minute,
            Hours => t.Hour,
            DayOfWeek => (int)t.DayOfWeek + 1,
            DayOfMonth => t.Day,
            Month => t.Month,
            Year => t.Year % 100,
            _ => t.Year / 100,
        };
        return (byte)((value / 10) << 4 | value % 10);
    }
}
