using System.Buffers.Binary;
using Actorvisor.Hardware.Accel;

namespace Actorvisor.Hardware.Devices;

/// <summary>
/// A bank of 32-bit read/write registers behind an MMIO window: reads return the stored value, writes
/// store it (byte, word and dword accesses inside a register are merged as on real hardware). The host
/// sets and inspects registers too, which makes it the simplest device to exchange values with a guest
/// (see GuestLibrary.MmioProber).
/// </summary>
public sealed class MmioRegisterBank : IMmioDevice
{
    private readonly object _gate = new();
    private readonly byte[] _bytes;
    private long _reads, _writes;

    /// <summary>A bank of <paramref name="registerCount"/> registers, all zero.</summary>
    public MmioRegisterBank(int registerCount, string name = "registers")
    {
        if (registerCount <= 0) throw new ArgumentOutOfRangeException(nameof(registerCount), registerCount, "a register bank needs at least one register");
        ArgumentException.ThrowIfNullOrEmpty(name);
        _bytes = new byte[registerCount * 4];
        Name = name;
    }

    /// <inheritdoc />
    public string Name { get; }

    /// <summary>Number of registers.</summary>
    public int RegisterCount => _bytes.Length / 4;

    /// <summary>Size of the MMIO window in bytes (4 per register).</summary>
    public ulong SizeBytes => (ulong)_bytes.Length;

    /// <summary>Guest reads so far.</summary>
    public long Reads => Interlocked.Read(ref _reads);

    /// <summary>Guest writes so far.</summary>
    public long Writes => Interlocked.Read(ref _writes);

    /// <summary>Register <paramref name="index"/>'s value, or sets it.</summary>
    public uint this[int index]
    {
        get
        {
            CheckIndex(index);
            lock (_gate) return BinaryPrimitives.ReadUInt32LittleEndian(_bytes.AsSpan(index * 4));
        }
        set
        {
            CheckIndex(index);
            lock (_gate) BinaryPrimitives.WriteUInt32LittleEndian(_bytes.AsSpan(index * 4), value);
        }
    }

    /// <inheritdoc />
    public ExitAction OnMmio(ulong offset, bool isWrite, Span<byte> data)
    {
        Interlocked.Increment(ref isWrite ? ref _writes : ref _reads);
        lock (_gate)
        {
            for (int i = 0; i < data.Length; i++)
            {
                ulong at = offset + (ulong)i;
                bool inside = at < (ulong)_bytes.Length;
                if (isWrite) { if (inside) _bytes[at] = data[i]; }
                else data[i] = inside ? _bytes[at] : (byte)0xff;
            }
        }
        return ExitAction.Continue;
    }

    private void CheckIndex(int index)
    {
        if ((uint)index >= (uint)RegisterCount)
            throw new ArgumentOutOfRangeException(nameof(index), index, $"register bank '{Name}' has {RegisterCount} registers");
    }
}
