using System.Buffers.Binary;
using Actorvisor.Hardware.Accel;

namespace Actorvisor.Hardware.Devices;

/// <summary>
/// QEMU's firmware configuration interface, traditional (port I/O) flavour: a 16-bit selector written to port
/// 0x510 chooses an item, and port 0x511 reads it byte by byte (zeros past its end). The items are the ones test
/// kernels read: the "QEMU" signature, the interface id (1: no DMA), RAM_SIZE, NB_CPUS, MAX_CPUS, and an empty file
/// directory. Little-endian, as QEMU stores them, except the file directory's count (big-endian).
/// </summary>
public sealed class FwCfgDevice : IPortIoDevice
{
    /// <summary>The selector port.</summary>
    public const ushort SelectorPort = 0x510;
    /// <summary>Selector (0x510) and data (0x511).</summary>
    public const int PortCount = 2;
    /// <summary>FW_CFG_SIGNATURE.</summary>
    public const ushort Signature = 0x0000;
    /// <summary>FW_CFG_ID.</summary>
    public const ushort Id = 0x0001;
    /// <summary>FW_CFG_RAM_SIZE.</summary>
    public const ushort RamSize = 0x0003;
    /// <summary>FW_CFG_NB_CPUS.</summary>
    public const ushort NbCpus = 0x0005;
    /// <summary>FW_CFG_MAX_CPUS.</summary>
    public const ushort MaxCpus = 0x000f;
    /// <summary>FW_CFG_FILE_DIR.</summary>
    public const ushort FileDir = 0x0019;

    private readonly object _gate = new();
    private readonly Dictionary<ushort, byte[]> _items;
    private byte[] _selected = [];
    private int _offset;

    /// <summary>The items for a machine with <paramref name="ramBytes"/> of RAM and <paramref name="vcpus"/> vCPUs.</summary>
    public FwCfgDevice(ulong ramBytes, int vcpus)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(vcpus, 1);
        var ram = new byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(ram, ramBytes);
        var cpus = new byte[2];
        BinaryPrimitives.WriteUInt16LittleEndian(cpus, (ushort)vcpus);
        _items = new Dictionary<ushort, byte[]>
        {
            [Signature] = "QEMU"u8.ToArray(),
            [Id] = [1, 0, 0, 0],
            [RamSize] = ram,
            [NbCpus] = cpus,
            [MaxCpus] = (byte[])cpus.Clone(),
            [FileDir] = [0, 0, 0, 0],
        };
    }

    /// <inheritdoc />
    public string Name => "fw-cfg";

    /// <inheritdoc />
    public ExitAction OnPortIo(ushort offset, IoDirection direction, Span<byte> data)
    {
        lock (_gate)
        {
            if (offset == 0)
            {
                if (direction == IoDirection.Out)
                {
                    ushort key = data.Length >= 2 ? BinaryPrimitives.ReadUInt16LittleEndian(data) : data[0];
                    _selected = _items.TryGetValue(key, out var item) ? item : [];
                    _offset = 0;
                }
                else
                {
                    data.Fill(0xff);
                }
                return ExitAction.Continue;
            }
            if (direction == IoDirection.In)
            {
                for (int i = 0; i < data.Length; i++) data[i] = _offset < _selected.Length ? _selected[_offset++] : (byte)0;
            }
            return ExitAction.Continue;
        }
    }
}
