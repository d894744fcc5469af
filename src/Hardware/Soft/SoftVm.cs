using Actorvisor.Hardware.Accel;
using Actorvisor.Hardware.Apic;
using Actorvisor.Hardware.Memory;
using Actorvisor.Hardware.Mmu;
using Actorvisor.Hardware.Snapshots;

namespace Actorvisor.Hardware.Soft;

/// <summary>
/// A VM of the software accelerator. Its memslots are the immutable <see cref="MemslotSet"/> its
/// <see cref="SoftMmu"/> maps (published with a volatile write under mmu_lock); each vCPU maps the current
/// set into its own Unicorn engine when it next enters the guest, as the SPTEs allow. A change zaps the SPTEs
/// of deleted and moved slots under mmu_lock and flushes every vCPU's TLB, then waits until every running
/// vCPU has left the old engine (so memory of a deleted slot can be unmapped as soon as
/// <see cref="DeleteMemoryRegion"/> returns).
/// </summary>
public sealed class SoftVm : IVirtualMachine
{
    private readonly object _changes = new();
    private readonly object _publish = new();
    private readonly List<SoftVcpu> _vcpus = [];
    private bool _disposed;

    internal SoftVm(SoftAccelerator accelerator)
    {
        Accelerator = accelerator;
        Mmu = new SoftMmu();
        ApicWindow = new ApicMmioWindow(ApicBus);
    }

    /// <summary>The local APICs of the VM's vCPUs (one per vCPU, <see cref="SoftVcpu.Apic"/>): IPI routing and thread binding.</summary>
    public LocalApicBus ApicBus { get; } = new();

    /// <summary>
    /// The xAPIC page: the VMM registers it on the VM's device bus at <see cref="LocalApic.DefaultBase"/>
    /// (<see cref="LocalApic.WindowSize"/> bytes); each vCPU reaches its own APIC through it.
    /// </summary>
    public ApicMmioWindow ApicWindow { get; }

    /// <summary>The VM's second-stage MMU: SPTEs, mmu_lock, TLB flushes, dirty logging.</summary>
    public SoftMmu Mmu { get; }

    /// <inheritdoc />
    public IDirtyLog DirtyLog => Mmu;

    /// <summary>The accelerator that created this VM.</summary>
    public SoftAccelerator Accelerator { get; }

    /// <inheritdoc />
    public AcceleratorKind Kind => AcceleratorKind.Software;

    /// <inheritdoc />
    public MemslotSet Memslots => Mmu.Memslots;

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
        Metrics.HardwareMeter.MemslotChanged(deleted: false);
    }

    /// <inheritdoc />
    public void DeleteMemoryRegion(uint slotId)
    {
        Publish(set => set.Without(slotId));
        Metrics.HardwareMeter.MemslotChanged(deleted: true);
    }

    private void Publish(Func<MemslotSet, MemslotSet> change)
    {
        SoftVcpu[] vcpus;
        long generation;
        // Called from an exit handler, this thread's vCPU is in guest mode, where it may neither take mmu_lock nor
        // wait behind a change that waits for its flush acknowledgement: it leaves guest mode for the change and
        // re-enters afterwards, applying the flush the change requested.
        var self = TlbFlushParticipant.CurrentInGuest;
        self?.ExitGuest();
        try
        {
            lock (_publish)
            {
                lock (_changes)
                {
                    ObjectDisposedException.ThrowIf(_disposed, this);
                    vcpus = [.. _vcpus];
                }
                var next = change(Memslots);
                Mmu.SetMemslots(next);
                generation = next.Generation;
            }
        }
        finally
        {
            self?.EnterGuest();
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

    /// <summary>
    /// The software VM's platform state: every interrupt controller and timer of this accelerator is a vCPU's own
    /// local APIC (saved with the vCPU), so this records the vCPU count the state belongs to, which a restore checks.
    /// </summary>
    public byte[] SavePlatformState()
    {
        var w = new StateBlobWriter("SVMP", 1);
        lock (_changes) w.U32((uint)_vcpus.Count);
        return w.ToArray();
    }

    /// <inheritdoc />
    public void RestorePlatformState(ReadOnlySpan<byte> state)
    {
        var r = new StateBlobReader(state, "SVMP", 1, "software VM platform state");
        uint count = r.U32();
        r.End();
        int have;
        lock (_changes) have = _vcpus.Count;
        if (count != have) throw new FormatException($"software VM platform state: saved with {count} vCPUs, this VM has {have}");
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
        // The MMU goes with the VM: no zap (it would wait for a vCPU still finishing its last block) and no
        // Mmu.Dispose (that vCPU may still fault into it).
        foreach (var vcpu in vcpus) vcpu.Dispose();
    }
}
