using Actorvisor.Hardware.Accel;
using Actorvisor.Hardware.Kvm.Abi;
using Actorvisor.Hardware.Memory;
using Actorvisor.Hardware.Mmu;
using Actorvisor.Hardware.X86;

namespace Actorvisor.Hardware.Kvm;

/// <summary>
/// <see cref="IVirtualMachine"/> over a <see cref="VmFd"/>. Memslot changes are validated against the
/// current <see cref="MemslotSet"/> before the ioctl (clear errors for overlap and misalignment), then
/// published as a new snapshot once KVM has accepted them. Dirty logging is the kernel's (KVM_GET_DIRTY_LOG),
/// harvested into the same <see cref="DirtyBitmap"/> the software MMU produces.
/// </summary>
public sealed class KvmVirtualMachine : IVirtualMachine, IDirtyLog, IPcPlatformVm
{
    /// <summary>Where the real-mode identity page table goes (KVM_SET_IDENTITY_MAP_ADDR): the page below the TSS.</summary>
    public const ulong IdentityMapAddress = 0xfffb_c000;
    /// <summary>FPU control word after FNINIT: all exceptions masked, 64-bit precision.</summary>
    public const ushort FpuControlWordAtReset = 0x37f;
    /// <summary>MXCSR at reset: all SSE exceptions masked (passed to KVM_SET_FPU, which on 6.1 does not copy it: the kernel sets its own).</summary>
    public const uint MxcsrAtReset = 0x1f80;

    private bool _pcChipset;
    /// <summary>Where the real-mode TSS goes (KVM_SET_TSS_ADDR): just below the 4 GiB BIOS area, as Firecracker and QEMU place it.</summary>
    public const ulong TssAddress = 0xfffb_d000;

    private readonly VmFd _vm;
    private readonly KvmCpuidEntry2[] _cpuid;
    private readonly List<KvmVirtualCpu> _vcpus = [];
    private readonly bool _readonlyMemory;
    // KVM_GET_MSR_INDEX_LIST, for the vCPUs' SaveState.
    private readonly uint[] _msrIndexList;
    private MemslotSet _memslots = MemslotSet.Empty;

    internal KvmVirtualMachine(VmFd vm, KvmFd kvm, KvmCpuidEntry2[] cpuid)
    {
        _vm = vm;
        _cpuid = cpuid;
        _readonlyMemory = kvm.CheckExtension(KvmCapability.ReadonlyMem) > 0;
        _msrIndexList = kvm.GetMsrIndexList();
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
        Metrics.HardwareMeter.MemslotChanged(deleted: false);
    }

    /// <inheritdoc />
    public void DeleteMemoryRegion(uint slotId)
    {
        var next = Memslots.Without(slotId);
        _vm.DeleteUserMemoryRegion(slotId);
        Volatile.Write(ref _memslots, next);
        Metrics.HardwareMeter.MemslotChanged(deleted: true);
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
            var adapter = new KvmVirtualCpu(vcpu, _msrIndexList, _pcChipset);
            _vcpus.Add(adapter);
            return adapter;
        }
        catch
        {
            vcpu.Dispose();
            throw;
        }
    }

    /// <summary>True once <see cref="CreatePcChipset"/> ran: the in-kernel irqchip and PIT exist.</summary>
    public bool HasPcChipset => _pcChipset;

    /// <summary>
    /// KVM_SET_IDENTITY_MAP_ADDR (the page below the TSS), KVM_CREATE_IRQCHIP (PIC, IOAPIC, LAPICs) and
    /// KVM_CREATE_PIT2 (with the dummy speaker port 0x61), before any vCPU exists.
    /// </summary>
    /// <exception cref="InvalidOperationException">vCPUs exist already, or the chipset was created before.</exception>
    public void CreatePcChipset()
    {
        if (_pcChipset) throw new InvalidOperationException("the PC chipset exists already");
        if (_vcpus.Count > 0) throw new InvalidOperationException("the PC chipset must be created before the vCPUs (KVM_CREATE_IRQCHIP)");
        if (_vm.CheckExtension(KvmCapability.SetIdentityMapAddr) > 0) _vm.SetIdentityMapAddress(IdentityMapAddress);
        _vm.CreateIrqchip();
        _vm.CreatePit2();
        _pcChipset = true;
    }

    /// <summary>KVM_IRQ_LINE on the in-kernel irqchip.</summary>
    /// <exception cref="InvalidOperationException">the VM has no PC chipset.</exception>
    public void SetIrqLevel(int irq, bool asserted)
    {
        if (!_pcChipset) throw new InvalidOperationException("interrupt lines need the PC chipset (KVM_CREATE_IRQCHIP)");
        ArgumentOutOfRangeException.ThrowIfNegative(irq);
        _vm.SetIrqLine((uint)irq, asserted);
    }

    /// <summary>
    /// KVM_SET_MSRS with <see cref="BootMsrs.Entries"/>, KVM_SET_FPU with the reset control words, LINT0 ExtINT and
    /// LINT1 NMI through KVM_GET/SET_LAPIC; an application processor is put in KVM_MP_STATE_UNINITIALIZED.
    /// </summary>
    public void PreparePcVcpu(IVirtualCpu vcpu, bool bootProcessor)
    {
        ArgumentNullException.ThrowIfNull(vcpu);
        if (!_pcChipset) throw new InvalidOperationException("a PC vCPU needs the PC chipset: call CreatePcChipset before creating vCPUs");
        var fd = (vcpu as KvmVirtualCpu ?? throw new ArgumentException("not a KVM vCPU of this VM", nameof(vcpu))).Fd;
        var msrs = BootMsrs.Entries.Select(m => new KvmMsrEntry { Index = m.Index, Data = m.Value }).ToArray();
        int set = fd.SetMsrs(msrs);
        if (set != msrs.Length)
            throw new InvalidOperationException($"vCPU {vcpu.Id}: KVM_SET_MSRS set {set} of {msrs.Length} MSRs; KVM refused MSR 0x{msrs[set].Index:x}");
        fd.SetFpu(new KvmFpu { Fcw = FpuControlWordAtReset, Mxcsr = MxcsrAtReset });
        var lapic = fd.GetLapic();
        lapic.Write(KvmLapicState.LvtLint0, WithDeliveryMode(lapic.Read(KvmLapicState.LvtLint0), LapicDeliveryExtInt));
        lapic.Write(KvmLapicState.LvtLint1, WithDeliveryMode(lapic.Read(KvmLapicState.LvtLint1), LapicDeliveryNmi));
        fd.SetLapic(lapic);
        if (!bootProcessor) fd.SetMpState(KvmMpState.Uninitialized);
    }

    /// <summary>
    /// KVM_SET_IRQCHIP on both PICs (vector bases 0x08/0x70, initialised, the masks of <see cref="PcFirmwareHandoff"/>)
    /// and KVM_SET_PIT2 with channel 0 in mode 2 (rate generator) at its reload value, which starts its timer; ticks
    /// the guest misses are dropped (KVM_REINJECT_CONTROL off, as kvm-unit-tests runs QEMU): with KVM's default the
    /// ticks of a guest running with interrupts off for seconds arrive back to back at its first STI.
    /// </summary>
    public void ApplyFirmwareChipsetState()
    {
        if (!_pcChipset) throw new InvalidOperationException("the firmware chipset state needs the PC chipset (KVM_CREATE_IRQCHIP)");
        ProgramPic(KvmStateSizes.IrqchipPicMaster, PcFirmwareHandoff.MasterPicBase, PcFirmwareHandoff.MasterPicMask);
        ProgramPic(KvmStateSizes.IrqchipPicSlave, PcFirmwareHandoff.SlavePicBase, PcFirmwareHandoff.SlavePicMask);
        var pit = _vm.GetPit2();
        // struct kvm_pit_channel_state of channel 0: count (u32) at 0, read_state 9, write_state 10, rw_mode 12,
        // mode 13, bcd 14, gate 15.
        BitConverter.TryWriteBytes(pit.AsSpan(0), PcFirmwareHandoff.PitReload);
        pit[9] = pit[10] = pit[12] = PitAccessLowThenHigh;
        pit[13] = PitModeRateGenerator;
        pit[14] = 0;
        pit[15] = 1;
        _vm.SetPitReinject(false);
        _vm.SetPit2(pit);
    }

    private const byte PitAccessLowThenHigh = 3, PitModeRateGenerator = 2;

    // struct kvm_pic_state after kvm_irqchip's 8-byte header: imr at 2, irq_base 5, init_state 9, init4 13.
    private void ProgramPic(uint chip, byte vectorBase, byte mask)
    {
        var state = _vm.GetIrqchip(chip);
        const int pic = 8;
        state[pic + 2] = mask;
        state[pic + 5] = vectorBase;
        state[pic + 9] = 0;
        state[pic + 13] = 1;
        _vm.SetIrqchip(state);
    }

    private const uint LapicDeliveryNmi = 4, LapicDeliveryExtInt = 7;

    // LVT delivery mode is bits 8-10; the mask bit (16) is cleared so the input is live.
    private static uint WithDeliveryMode(uint lvt, uint mode) => (lvt & ~0x1_0700u) | (mode << 8);

    /// <summary>
    /// The VM-wide state as a <see cref="KvmPlatformState"/> blob: with the PC chipset the PICs, IOAPIC and PIT, and
    /// always the kvmclock. Call it while no vCPU runs.
    /// </summary>
    public byte[] SavePlatformState() => KvmPlatformState.Save(_vm, _pcChipset);

    /// <summary>
    /// Loads a <see cref="KvmPlatformState"/> blob into this VM (created the same way: the PC chipset exists here
    /// exactly when it did there), after the vCPUs' <see cref="IVirtualCpu.RestoreState"/> and before any vCPU runs.
    /// </summary>
    /// <exception cref="FormatException">the blob is of another version or layout, truncated or corrupted.</exception>
    public void RestorePlatformState(ReadOnlySpan<byte> state) => KvmPlatformState.Restore(_vm, _pcChipset, state);

    /// <summary>Disposes the vCPUs, then the VM fd.</summary>
    public void Dispose()
    {
        foreach (var v in _vcpus) v.Dispose();
        _vcpus.Clear();
        _vm.Dispose();
    }

    /// <summary>
    /// The supported CPUID with this vCPU's APIC id in the leaves that report it (leaf 1 EBX[31:24], leaves 0xB/0x1F EDX),
    /// and the leaf 1 ECX bits KVM_GET_SUPPORTED_CPUID leaves to the VMM: "running under a hypervisor" (bit 31, without
    /// which Linux never looks at the KVM leaves at 0x40000000 and so uses neither kvm-clock nor the other PV features),
    /// and, with the in-kernel LAPIC and KVM_CAP_TSC_DEADLINE_TIMER, the TSC-deadline timer (bit 24), as QEMU sets them.
    /// </summary>
    private KvmCpuidEntry2[] CpuidFor(int id)
    {
        var entries = KvmParavirtLeaves.Apply((KvmCpuidEntry2[])_cpuid.Clone());
        bool tscDeadline = _pcChipset && _vm.CheckExtension(KvmCapability.TscDeadlineTimer) > 0;
        for (int i = 0; i < entries.Length; i++)
        {
            ref var e = ref entries[i];
            if (e.Function == 1)
            {
                e.Ebx = (e.Ebx & 0x00ff_ffff) | ((uint)id << 24);
                e.Ecx |= Leaf1EcxHypervisor | (tscDeadline ? Leaf1EcxTscDeadline : 0);
            }
            else if (e.Function is 0xb or 0x1f) e.Edx = (uint)id;
        }
        return entries;
    }

    /// <summary>CPUID leaf 1 ECX bit 31: a hypervisor is present.</summary>
    public const uint Leaf1EcxHypervisor = 1u << 31;

    /// <summary>CPUID leaf 1 ECX bit 24: the LAPIC timer has the TSC-deadline mode.</summary>
    public const uint Leaf1EcxTscDeadline = 1u << 24;
}
