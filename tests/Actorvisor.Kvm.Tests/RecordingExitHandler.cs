using Actorvisor.Hardware.Accel;

namespace Actorvisor.Kvm.Tests;

/// <summary>An exit handler that records port writes, answers port reads and MMIO reads from fixed values, and can stop on a port.</summary>
internal sealed class RecordingExitHandler : IExitHandler
{
    public List<(ushort Port, byte[] Data)> Outs { get; } = [];
    public List<(ulong Gpa, bool IsWrite, byte[] Data)> MmioAccesses { get; } = [];
    public Dictionary<ushort, uint> InValues { get; } = [];
    public ulong MmioReadValue { get; set; }
    public ushort? StopOnPort { get; set; }
    public Action<ushort>? OnOut { get; set; }

    public ExitAction OnPortIo(ushort port, IoDirection direction, Span<byte> data)
    {
        if (Outs.Count + MmioAccesses.Count > 10_000) throw new InvalidOperationException($"guest looped: last out port 0x{Outs[^1].Port:x} data {Convert.ToHexString(Outs[^1].Data)}");
        if (direction == IoDirection.Out)
        {
            Outs.Add((port, data.ToArray()));
            OnOut?.Invoke(port);
        }
        else
        {
            Span<byte> value = BitConverter.GetBytes(InValues.GetValueOrDefault(port));
            value[..data.Length].CopyTo(data);
        }
        return port == StopOnPort ? ExitAction.Stop : ExitAction.Continue;
    }

    public ExitAction OnMmio(ulong gpa, bool isWrite, Span<byte> data)
    {
        if (!isWrite) BitConverter.GetBytes(MmioReadValue).AsSpan(0, data.Length).CopyTo(data);
        MmioAccesses.Add((gpa, isWrite, data.ToArray()));
        return ExitAction.Continue;
    }

    /// <summary>The bytes written to <paramref name="port"/>, in order.</summary>
    public byte[] BytesOut(ushort port) => Outs.Where(o => o.Port == port).SelectMany(o => o.Data).ToArray();
}
