using Actorvisor.Hardware.Accel;
using Actorvisor.Hardware.Memory;

namespace Actorvisor.Hardware.Soft;

/// <summary>
/// A VM of the software accelerator. Its memslots are an immutable <see cref="MemslotSet"/> published
/// through a volatile field; each vCPU maps the current set into its own Unicorn engine when it next
/// enters the guest, and a change waits until every running vCPU has left the old mapping (so memory of a
/// deleted slot can be unmapped as soon as <see cref="DeleteMemoryRegion"/> returns).
/// </summary>
public sealed class SoftVm : IVirtualMachine
{
    private readonly object _changes = new();
    private readonly List<SoftVcpu> _vcpus = [];
    private volatile MemslotSet _memslots = MemslotSet.Empty;
    private bool _disposed;

    internal SoftVm(SoftAccelerator accelerator) => Accelerator = accelerator;

    /// <summary>The accelerator that created this VM.</summary>
    public SoftAccelerator Accelerator { get; }

    /// <inheritdoc />
    public AcceleratorKind Kind => AcceleratorKind.Software;

    /// <inheritdoc />
    public MemslotSet Memslots => _memslots;

    /// <inheritdoc />
    public IReadOnlyList<IVirtualCpu> Vcpus
    {
        get { lock (_changes) return [.. _vcpus]; }
    }

    /// <inheritdoc />
    public void SetMemoryRegion(Memslot slot)
    {
        ArgumentNullException.ThrowIfNull(slot);
        if (slot.End > SoftCpuEngine.MmioTop)
            throw new MemslotException($"memslot {slot.Slot} [0x{slot.GuestPhysAddr:x}, 0x{slot.End:x}) reaches above 0x{SoftCpuEngine.MmioTop:x}, the top of the software accelerator's guest-physical space");
        Publish(set => set.With(slot));
    }

    /// <inheritdoc />
    public void DeleteMemoryRegion(uint slotId) => Publish(set => set.Without(slotId));

    private void Publish(Func<MemslotSet, MemslotSet> change)
    {
        SoftVcpu[] vcpus;
        long generation;
        lock (_changes)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            var next = change(_memslots);
            _memslots = next;
            generation = next.Generation;
            vcpus = [.. _vcpus];
        }
        foreach (var vcpu in vcpus) vcpu.SynchronizeMemslots(generation);
    }

    /// <inheritdoc />
    public IVirtualCpu CreateVcpu(int id)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(id);
        lock (_changes)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_vcpus.Any(v => v.Id == id)) throw new ArgumentException($"vCPU {id} already exists in this VM", nameof(id));
            var vcpu = new SoftVcpu(this, id);
            _vcpus.Add(vcpu);
            return vcpu;
        }
    }

    /// <summary>Disposes the vCPUs. The host memory behind the memslots stays the caller's.</summary>
    public void Dispose()
    {
        SoftVcpu[] vcpus;
        lock (_changes)
        {
            if (_disposed) return;
            _disposed = true;
            vcpus = [.. _vcpus];
            _vcpus.Clear();
        }
        foreach (var vcpu in vcpus) vcpu.Dispose();
    }
}
