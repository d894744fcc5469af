using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using Actorvisor.Hardware.Accel;

namespace Actorvisor.Hardware.Tests.Contract;

/// <summary>A port I/O access the handler saw.</summary>
public sealed record PortAccess(ushort Port, IoDirection Direction, int Size, uint Data);

/// <summary>An MMIO access the handler saw.</summary>
public sealed record MmioAccess(ulong Gpa, bool IsWrite, int Size, ulong Data);

/// <summary>
/// An exit handler that records every access in order, answers IN and MMIO reads from configurable
/// values, and stops on the ports/addresses it is told to.
/// </summary>
public sealed class RecordingExitHandler : IExitHandler
{
    private readonly ConcurrentQueue<object> _accesses = new();

    /// <summary>Ports whose accesses return Stop.</summary>
    public HashSet<ushort> StopPorts { get; } = [];

    /// <summary>Guest-physical addresses whose MMIO accesses return Stop.</summary>
    public HashSet<ulong> StopMmio { get; } = [];

    /// <summary>Value returned for IN from a port (little-endian, truncated to the access size).</summary>
    public Dictionary<ushort, uint> InValues { get; } = [];

    /// <summary>Value returned for an MMIO read (little-endian, truncated to the access size); default 0.</summary>
    public Func<ulong, ulong> MmioReadValue { get; set; } = _ => 0;

    /// <summary>Called after recording a port access (on the vCPU thread).</summary>
    public Action<PortAccess>? OnPort { get; set; }

    /// <summary>Thrown from OnPortIo for this port, if set.</summary>
    public (ushort Port, Exception Error)? ThrowOnPort { get; set; }

    /// <summary>All port accesses so far, in order.</summary>
    public IReadOnlyList<PortAccess> Ports => _accesses.OfType<PortAccess>().ToList();

    /// <summary>All MMIO accesses so far, in order.</summary>
    public IReadOnlyList<MmioAccess> Mmio => _accesses.OfType<MmioAccess>().ToList();

    /// <inheritdoc />
    public ExitAction OnPortIo(ushort port, IoDirection direction, Span<byte> data)
    {
        if (ThrowOnPort is { } t && t.Port == port) throw t.Error;
        if (direction == IoDirection.In && InValues.TryGetValue(port, out uint v))
        {
            Span<byte> bytes = stackalloc byte[4];
            MemoryMarshal.Write(bytes, in v);
            bytes[..data.Length].CopyTo(data);
        }
        var access = new PortAccess(port, direction, data.Length, ToUInt(data));
        _accesses.Enqueue(access);
        OnPort?.Invoke(access);
        return StopPorts.Contains(port) ? ExitAction.Stop : ExitAction.Continue;
    }

    /// <inheritdoc />
    public ExitAction OnMmio(ulong gpa, bool isWrite, Span<byte> data)
    {
        if (!isWrite)
        {
            Span<byte> bytes = stackalloc byte[8];
            MemoryMarshal.Write(bytes, MmioReadValue(gpa));
            bytes[..data.Length].CopyTo(data);
        }
        ulong value = 0;
        for (int i = data.Length - 1; i >= 0; i--) value = (value << 8) | data[i];
        _accesses.Enqueue(new MmioAccess(gpa, isWrite, data.Length, value));
        return StopMmio.Contains(gpa) ? ExitAction.Stop : ExitAction.Continue;
    }

    private static uint ToUInt(ReadOnlySpan<byte> data)
    {
        uint value = 0;
        for (int i = data.Length - 1; i >= 0; i--) value = (value << 8) | data[i];
        return value;
    }
}
