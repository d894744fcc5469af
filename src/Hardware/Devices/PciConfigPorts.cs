using Actorvisor.Hardware.Accel;

namespace Actorvisor.Hardware.Devices;

/// <summary>
/// PCI configuration mechanism #1 (ports 0xcf8-0xcff) on a machine with no PCI device: the address register at
/// 0xcf8 latches what is written and reads it back, and every configuration read through 0xcfc-0xcff answers
/// all-ones ("no device"); configuration writes are dropped. Linux's sanity check then finds no host bridge and
/// does not scan the bus.
/// </summary>
public sealed class PciConfigPorts : IPortIoDevice
{
    /// <summary>CONFIG_ADDRESS.</summary>
    public const ushort AddressPort = 0xcf8;
    /// <summary>CONFIG_ADDRESS (4) and CONFIG_DATA (4).</summary>
    public const int PortCount = 8;

    private uint _address;
    private long _configReads;

    /// <inheritdoc />
    public string Name => "pci-config";

    /// <summary>The address register's value.</summary>
    public uint Address => Volatile.Read(ref _address);

    /// <summary>Configuration-space reads answered with "no device".</summary>
    public long ConfigReads => Interlocked.Read(ref _configReads);

    /// <inheritdoc />
    public ExitAction OnPortIo(ushort offset, IoDirection direction, Span<byte> data)
    {
        for (int i = 0; i < data.Length; i++)
        {
            int port = offset + i;
            if (port < 4)
            {
                int shift = port * 8;
                if (direction == IoDirection.In) data[i] = (byte)(Volatile.Read(ref _address) >> shift);
                else
                {
                    uint old, next;
                    do
                    {
                        old = Volatile.Read(ref _address);
                        next = (old & ~(0xffu << shift)) | (uint)data[i] << shift;
                    } while (Interlocked.CompareExchange(ref _address, next, old) != old);
                }
            }
            else if (direction == IoDirection.In)
            {
                data[i] = 0xff;
            }
        }
        if (direction == IoDirection.In && offset + data.Length > 4) Interlocked.Increment(ref _configReads);
        return ExitAction.Continue;
    }
}
