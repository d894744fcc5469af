using Actorvisor.Hardware.Accel;
using Actorvisor.Hardware.Kvm.Abi;
using Actorvisor.Hardware.Memory;
using Actorvisor.Hardware.Mmu;

namespace Actorvisor.Hardware.Kvm;

/// <summary>
/// <see cref="IVirtualMachine"/> over a <see cref="VmFd"/>. Memslot changes are validated against the
/// current <see cref="MemslotSet"/> before the ioctl (clear errors for overlap and misalignment), then
/// published as a new snapshot once KVM has accepted them. Dirty logging is the kernel's (KVM_GET_DIRTY_LOG),
/// harvested into the same <see cref="DirtyBitmap"/> the software MMU produces.
/// </summary>
public sealed class KvmVirtualMachine : IVirtualMachine, IDirtyLog
{
    /// <summary>Where the real-mode TSS goes (KVM_SET_TSS_ADDR): just below the 4 GiB BIOS area, as Firecracker and QEMU place it.</summary>
    public const ulong TssAddress = 0xfffb_d000;

    private readonly VmFd _vm;
    private readonly KvmCpuidEntry2[] _cpuid;
    private readonly List<KvmVirtualCpu> _vcpus = [];
    private readonly bool _readonlyMemory;
    private MemslotSet _memslots = MemslotSet.Empty;

    internal KvmVirtualMachine(VmFd vm, KvmFd kvm, KvmCpuidEntry2[] cpuid)
    {
        _vm = vm;
        _cpuid = cpuid;
        _readonlyMemory = kvm.CheckExtension(KvmCapability.ReadonlyMem) > 0;
        // Intel without unrestricted guest needs the TSS for real mode; on AMD it is harmless.
        if (kvm.CheckExtension(KvmCapability.SetTssAddr) > 0) vm.SetTssAddress(TssAddress);
    }

    /// <summary>The KVM VM fd wrapper, for VM ioctls beyond the accelerator contract (devices).</summary>
    public VmFd Fd => _vm;

    /// <inheritdoc />
    public AcceleratorKind Kind => AcceleratorKind.Kvm;

    /// <inheritdoc />
    public MemslotSet Memslots => Volatile.Read(ref _memslots);

    /// <inheritdoc />
    public IReadOnlyList<IVirtualCpu> Vcpus => _vcpus;

    /// <inheritdoc />
    public void SetMemoryRegion(Memslot slot)
    {
        ArgumentNullException.ThrowIfNull(slot);
        if (slot.IsReadOnly && !_readonlyMemory)
            throw new NotSupportedException($"memslot {slot.Slot}: this KVM does not support read-only memslots (KVM_CAP_READONLY_MEM)");
        var next = Memslots.With(slot);
        var existing = Memslots.ById(slot.Slot);
        // KVM refuses to change the size, host address or read-only flag of a live slot (EINVAL); the
        // contract says "replace", so such a change is a delete followed by a create.
        if (existing is not null && (existing.Size != slot.Size || existing.HostAddress != slot.HostAddress
                                     || existing.GuestPhysAddr != slot.GuestPhysAddr || existing.IsReadOnly != slot.IsReadOnly))
            _vm.DeleteUserMemoryRegion(slot.Slot);
        _vm.SetUserMemoryRegion(slot.Slot, slot.GuestPhysAddr, slot.Size, slot.HostAddress, (uint)slot.Flags);
        Volatile.Write(ref _memslots, next);
    }

    /// <inheritdoc />
    public void DeleteMemoryRegion(uint slotId)
    {
        var next = Memslots.Without(slotId);
        _vm.DeleteUserMemoryRegion(slotId);
        Volatile.Write(ref _memslots, next);
    }

    /// <inheritdoc />
    public IDirtyLog DirtyLog => this;

    /// <summary>False: KVM_GET_DIRTY_LOG resets and write-protects what it returns (KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2 is not enabled).</summary>
    public bool ManualProtect => false;

    /// <summary>
    /// The pages of log-dirty slot <paramref name="slotId"/> written since the last call (bit n = page n of the
    /// slot); KVM_GET_DIRTY_LOG also resets the log and write-protects those pages again.
    /// </summary>
    /// <exception cref="MemslotException">no such slot, or it does not log dirty pages.</exception>
    public DirtyBitmap GetDirtyLog(uint slotId)
    {
        var slot = Memslots.ById(slotId) ?? throw new MemslotException($"memslot {slotId} does not exist");
        if (!slot.LogsDirtyPages) throw new MemslotException($"memslot {slotId} was not created with {nameof(MemslotFlags.LogDirtyPages)}");
        var bitmap = new DirtyBitmap(slot.Pages);
        _vm.GetDirtyLog(slotId, bitmap.Words);
        return bitmap;
    }

    /// <summary>Not available: manual dirty-log protection is not enabled on KVM VMs.</summary>
    /// <exception cref="InvalidOperationException">always.</exception>
    public void ClearDirtyLog(uint slotId, ulong firstPage, DirtyBitmap mask) =>
        throw new InvalidOperationException("KVM VMs harvest with KVM_GET_DIRTY_LOG, which resets and protects pages itself; manual protection (KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2) is off");

    /// <inheritdoc />
    public IVirtualCpu CreateVcpu(int id)
    {
        if (_vcpus.Any(v => v.Id == id)) throw new ArgumentException($"vCPU {id} already exists", nameof(id));
        var vcpu = _vm.CreateVcpu(id);
        try
        {
            vcpu.SetCpuid2(CpuidFor(id));
            var adapter = new KvmVirtualCpu(vcpu);
            _vcpus.Add(adapter);
            return adapter;
        }
        catch
        {
            vcpu.Dispose();
            throw;
        }
    }

    /// <summary>Disposes the vCPUs, then the VM fd.</summary>
    public void Dispose()
    {
        foreach (var v in _vcpus) v.Dispose();
        _vcpus.Clear();
        _vm.Dispose();
    }

    /// <summary>The supported CPUID with this vCPU's APIC id in the leaves that report it (leaf 1 EBX[31:24], leaves 0xB/0x1F EDX).</summary>
    private KvmCpuidEntry2[] CpuidFor(int id)
    {
        var entries = KvmParavirtLeaves.Apply((KvmCpuidEntry2[])_cpuid.Clone());
        for (int i = 0; i < entries.Length; i++)
        {
            ref var e = ref entries[i];
            if (e.Function == 1) e.Ebx = (e.Ebx & 0x00ff_ffff) | ((uint)id << 24);
            else if (e.Function is 0xb or 0x1f) e.Edx = (uint)id;
        }
        return entries;
    }
}
