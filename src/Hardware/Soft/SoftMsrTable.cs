using Actorvisor.Hardware.Snapshots;
using Actorvisor.Hardware.X86;

namespace Actorvisor.Hardware.Soft;

/// <summary>
/// Owns one vCPU's MSRs that the software accelerator emulates itself rather than leaving to Unicorn's CPU
/// model: the KVM async page-fault MSRs and the APIC base. Unicorn 2.0.1 reads unknown MSRs as 0 and drops
/// writes to them; here, as on KVM, an MSR the table does not know is refused, and the vCPU raises #GP(0).
/// MSRs the CPU model implements faithfully (EFER, the SYSCALL/SYSENTER and segment-base MSRs, TSC, PAT,
/// MTRRs, machine-check) never reach the table (see <see cref="IsLeftToCpuModel"/>).
/// </summary>
internal sealed class SoftMsrTable
{
    /// <summary>IA32_APIC_BASE.</summary>
    public const uint ApicBase = 0x1B;

    private readonly Dictionary<uint, ulong> _values = new()
    {
        [KvmParavirtMsrs.AsyncPfEnable] = 0,
        [KvmParavirtMsrs.AsyncPfInterrupt] = 0,
        [KvmParavirtMsrs.AsyncPfAck] = 0,
        [ApicBase] = 0,
    };

    /// <summary>Reads <paramref name="index"/>; false for an MSR the table does not know (the guest gets #GP).</summary>
    public bool TryRead(uint index, out ulong value)
    {
        // KVM reads MSR_KVM_ASYNC_PF_ACK as 0: it is a write-only doorbell.
        if (index == KvmParavirtMsrs.AsyncPfAck)
        {
            value = 0;
            return true;
        }
        return _values.TryGetValue(index, out value);
    }

    /// <summary>
    /// Writes <paramref name="index"/>; false when KVM would refuse the write (unknown MSR or reserved bits set),
    /// so the guest gets #GP and the value is unchanged.
    /// </summary>
    public bool TryWrite(uint index, ulong value)
    {
        if (!_values.ContainsKey(index)) return false;
        switch (index)
        {
            case KvmParavirtMsrs.AsyncPfEnable when (value & KvmParavirtMsrs.EnableReservedBits) != 0:
            case KvmParavirtMsrs.AsyncPfInterrupt when value >> 8 != 0:
            case ApicBase when (value & ApicBaseReservedBits) != 0:
                return false;
            case KvmParavirtMsrs.AsyncPfAck:
                return true;
        }
        _values[index] = value;
        return true;
    }

    /// <summary>The value of an MSR the table knows (0 for an unknown one), for the VMM.</summary>
    public ulong this[uint index]
    {
        get => TryRead(index, out ulong v) ? v : 0;
        set => _values[index] = value;
    }

    /// <summary>Appends every MSR of the table (index and value) to a snapshot blob.</summary>
    public void SaveState(StateBlobWriter w)
    {
        w.U32((uint)_values.Count);
        foreach (var (index, value) in _values.OrderBy(p => p.Key))
        {
            w.U32(index);
            w.U64(value);
        }
    }

    /// <summary>Loads what <see cref="SaveState"/> wrote; an MSR this table does not emulate is refused.</summary>
    public void RestoreState(ref StateBlobReader r)
    {
        uint count = r.U32();
        for (uint i = 0; i < count; i++)
        {
            uint index = r.U32();
            ulong value = r.U64();
            if (!_values.ContainsKey(index)) throw new FormatException($"the state holds MSR 0x{index:x}, which the software accelerator does not emulate");
            _values[index] = value;
        }
    }

    /// <summary>Bits 0-7, 9 and 12 and up (above MAXPHYADDR 52) of IA32_APIC_BASE are reserved.</summary>
    private const ulong ApicBaseReservedBits = 0xFFF0_0000_0000_02FFUL;

    /// <summary>
    /// True for MSRs Unicorn's CPU model (QEMU 5.0's helper_rdmsr/helper_wrmsr) implements with real state:
    /// they are not intercepted. Every other MSR is.
    /// </summary>
    public static bool IsLeftToCpuModel(uint index) => index switch
    {
        0x10 => true,                                   // TSC
        0x34 or 0x8B or 0x198 or 0xD90 => true,         // SMI_COUNT, UCODE_REV, PERF_STATUS, BNDCFGS
        0xC001_0117 => true,                            // VM_HSAVE_PA
        >= 0x174 and <= 0x176 => true,                  // SYSENTER_CS/ESP/EIP
        >= 0x179 and <= 0x17B => true,                  // MCG_CAP/STATUS/CTL
        0x1A0 => true,                                  // MISC_ENABLE
        0xFE or (>= 0x200 and <= 0x2FF) => true,        // MTRRs, PAT (0x277)
        >= 0x400 and <= 0x47F => true,                  // MCi banks
        >= 0xC000_0080 and <= 0xC000_0084 => true,      // EFER, STAR, LSTAR, CSTAR, FMASK
        >= 0xC000_0100 and <= 0xC000_0103 => true,      // FS/GS/KERNEL_GS base, TSC_AUX
        _ => false,
    };
}
