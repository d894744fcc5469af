using Actorvisor.Hardware.Memory;

namespace Actorvisor.Host.Scenarios.Devices;

/// <summary>
/// Lets a scenario read a VM's guest RAM: live while the VM holds it, and afterwards from a copy of the
/// ranges the scenario checks. It is released with the VM's devices, which the teardown does after the
/// vCPU threads have stopped and before guest RAM is unmapped, so the copy shows the guest's final writes,
/// and a live read in progress holds the release (and so the unmapping) back until it has finished.
/// </summary>
public sealed class MemoryWitness : IDisposable
{
    /// <summary>The device name it is registered under.</summary>
    public const string DeviceName = "scenario-memory-witness";

    private readonly object _gate = new();
    private readonly HostMemory _memory;
    private readonly IReadOnlyList<(ulong Address, ulong Length)> _ranges;
    private readonly List<(ulong Address, byte[] Bytes)> _copies = [];
    private bool _released;

    /// <summary>Watches <paramref name="memory"/>; <paramref name="ranges"/> are kept when the VM is torn down.</summary>
    public MemoryWitness(HostMemory memory, IReadOnlyList<(ulong Address, ulong Length)> ranges)
    {
        _memory = memory ?? throw new ArgumentNullException(nameof(memory));
        _ranges = ranges ?? throw new ArgumentNullException(nameof(ranges));
    }

    /// <summary>True once the VM's teardown released it (reads come from the copies).</summary>
    public bool IsReleased { get { lock (_gate) return _released; } }

    /// <summary>Reads [<paramref name="address"/>, + <paramref name="length"/>) of guest RAM.</summary>
    /// <exception cref="InvalidOperationException">the VM has ended and the range was not kept, or the range is outside RAM.</exception>
    public byte[] Read(ulong address, ulong length)
    {
        lock (_gate)
        {
            if (!_released)
            {
                if (address > _memory.Size || length > _memory.Size - address)
                    throw new InvalidOperationException($"[0x{address:x}, 0x{address + length:x}) is outside guest RAM (0x{_memory.Size:x} bytes)");
                var live = new byte[length];
                _memory.Read(address, live);
                return live;
            }
            foreach (var (start, bytes) in _copies)
                if (address >= start && address + length <= start + (ulong)bytes.Length)
                    return bytes.AsSpan((int)(address - start), (int)length).ToArray();
            throw new InvalidOperationException($"the VM has ended and [0x{address:x}, 0x{address + length:x}) was not kept (only ranges of the scenario's expect-memory steps are)");
        }
    }

    /// <summary>Copies the kept ranges and stops live reads (the VM's teardown, before RAM is unmapped).</summary>
    public void Dispose()
    {
        lock (_gate)
        {
            if (_released) return;
            if (!_memory.IsDisposed)
            {
                foreach (var (address, length) in _ranges)
                {
                    if (address > _memory.Size || length > _memory.Size - address) continue;
                    var copy = new byte[length];
                    _memory.Read(address, copy);
                    _copies.Add((address, copy));
                }
            }
            _released = true;
        }
    }
}
