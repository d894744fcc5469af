using Actorvisor.Hardware.Memory;

namespace Actorvisor.Host.Scenarios.Devices;

/// <summary>
/// Keeps the guest-RAM ranges a scenario checks for after the VM has ended. While the VM lives, the runner reads
/// its memory through the VmActor (ReadGuestMemory); once the VM stops accepting requests, its memory is about to
/// be unmapped and the actor can no longer answer. This device is released with the VM's devices, which the
/// teardown does after the vCPU threads have stopped and before guest RAM is unmapped: the copy it takes then
/// shows the guest's final writes.
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

    /// <summary>True once the VM's teardown released it and the ranges were copied.</summary>
    public bool IsReleased { get { lock (_gate) return _released; } }

    /// <summary>[<paramref name="address"/>, + <paramref name="length"/>) of guest RAM as it was when the VM was torn down.</summary>
    /// <exception cref="InvalidOperationException">the VM has not been torn down yet, or the range was not kept.</exception>
    public byte[] ReadKept(ulong address, ulong length)
    {
        lock (_gate)
        {
            if (!_released)
                throw new InvalidOperationException("the VM's teardown has not copied its memory (it has not ended, or its teardown was abandoned before releasing its devices)");
            foreach (var (start, bytes) in _copies)
                if (address >= start && address + length <= start + (ulong)bytes.Length)
                    return bytes.AsSpan((int)(address - start), (int)length).ToArray();
            throw new InvalidOperationException($"the VM has ended and [0x{address:x}, 0x{address + length:x}) was not kept (only ranges of the scenario's expect-memory steps are)");
        }
    }

    /// <summary>Copies the kept ranges (the VM's teardown, after its vCPUs stopped and before RAM is unmapped).</summary>
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
