using Actorvisor.Hardware.Memory;
using Actorvisor.Hardware.Mmu;
using static Actorvisor.Hardware.Soft.UnicornNative;

namespace Actorvisor.Hardware.Soft;

/// <summary>
/// How one vCPU's Unicorn engine maps the RAM memslots: the engine's memory map plus QEMU's softmmu TLB are
/// this vCPU's view of the SPTEs of the VM's <see cref="SoftMmu"/> (its second-stage TLB). Each slot is in
/// one of two modes (see Soft/README.md for the measurements behind them):
/// <list type="bullet">
/// <item><b>Trapped</b> (UC_PROT_NONE, how every slot starts): a read or an instruction fetch reaches a
/// UC_HOOK_MEM_*_PROT hook whenever QEMU fills a TLB entry, and every write reaches the write hook, which
/// checks the page's SPTE (faulting it in through the MMU when it does not allow the access) and performs
/// the store itself. Page granularity without splitting Unicorn's memory regions.</item>
/// <item><b>Whole</b> (UC_PROT_ALL, or read and execute for a read-only slot): the guest reaches the slot's
/// memory directly. Only for slots that do not log dirty pages, and only while every SPTE of the slot
/// allows that access: after <see cref="SoftMmu.TryInstallWholeSlot"/> (a huge-page fault), until the table's
/// <see cref="SpteTable.PermissionEpoch"/> changes, which <see cref="Flush"/> checks at every TLB flush.</item>
/// </list>
/// Used by the vCPU thread only: <see cref="Flush"/> from the TLB flush protocol (at guest entry, or inside a
/// hook after a slow-path fault), <see cref="ApplyUpgrades"/> from the run loop outside guest mode.
/// </summary>
internal sealed class SoftMemoryMap
{
    /// <summary>One RAM slot of the engine and how it is mapped now.</summary>
    internal sealed class SlotMapping(Memslot slot, SpteTable? table)
    {
        /// <summary>The memslot as the engine maps it.</summary>
        public Memslot Slot { get; } = slot;

        /// <summary>The SPTE table of this exact slot mapping, or null if the MMU maps another memslot generation.</summary>
        public SpteTable? Table { get; } = table;

        /// <summary>True while the slot is mapped whole (UC_PROT_ALL / read-execute).</summary>
        public bool IsWhole { get; set; }

        /// <summary>The table's permission epoch the whole mapping was made at.</summary>
        public long Epoch { get; set; }

        /// <summary>A fault in the slot asked for a whole mapping at the next guest entry.</summary>
        public bool UpgradeWanted { get; set; }

        /// <summary>The epoch at which the last attempt to map the slot whole failed (-1: none).</summary>
        public long FailedEpoch { get; set; } = -1;

        /// <summary>True if the slot may be mapped whole at all (it does not log dirty pages).</summary>
        public bool MayBeWhole => Table is not null && !Slot.LogsDirtyPages;
    }

    private readonly UnicornEngine _uc;
    private readonly SoftMmu _mmu;
    private readonly SlotMapping[] _slots;
    private bool _upgradesWanted;
    private long _downgrades, _upgrades, _flushes;

    /// <summary>Describes the slots of <paramref name="memslots"/>, which the engine has mapped trapped.</summary>
    public SoftMemoryMap(UnicornEngine uc, SoftMmu mmu, MemslotSet memslots)
    {
        _uc = uc;
        _mmu = mmu;
        _slots = memslots.Slots.Select(slot => new SlotMapping(slot, TableFor(mmu, slot))).ToArray();
    }

    /// <summary>The MMU's table for <paramref name="slot"/> if it maps exactly that slot now.</summary>
    private static SpteTable? TableFor(SoftMmu mmu, Memslot slot) =>
        mmu.TableOf(slot.Slot) is { IsRetired: false } t && t.Slot == slot ? t : null;

    /// <summary>The slots, sorted by guest address.</summary>
    public IReadOnlyList<SlotMapping> Slots => _slots;

    /// <summary>Whole mappings dropped by TLB flushes so far.</summary>
    public long Downgrades => _downgrades;

    /// <summary>Slots mapped whole so far.</summary>
    public long Upgrades => _upgrades;

    /// <summary>TLB flushes applied so far.</summary>
    public long Flushes => _flushes;

    /// <summary>The RAM slot mapping <paramref name="gpa"/>, or null (MMIO).</summary>
    public SlotMapping? Find(ulong gpa)
    {
        int lo = 0, hi = _slots.Length - 1;
        while (lo <= hi)
        {
            int mid = (lo + hi) >>> 1;
            var s = _slots[mid];
            if (gpa < s.Slot.GuestPhysAddr) hi = mid - 1;
            else if (gpa >= s.Slot.End) lo = mid + 1;
            else return s;
        }
        return null;
    }

    /// <summary>
    /// Notes that a fault in <paramref name="s"/> wants the slot mapped whole; true if the caller should stop
    /// at the next block start so that <see cref="ApplyUpgrades"/> can run (it needs mmu_lock, so not in a hook).
    /// </summary>
    public bool WantUpgrade(SlotMapping s)
    {
        if (s.IsWhole || s.UpgradeWanted || !s.MayBeWhole || s.FailedEpoch == s.Table!.PermissionEpoch) return false;
        s.UpgradeWanted = true;
        _upgradesWanted = true;
        return true;
    }

    /// <summary>
    /// Run loop, outside guest mode (before <see cref="TlbFlushParticipant.EnterGuest"/>, which re-checks what
    /// this mapped): maps whole every slot a fault asked for whose SPTEs can all be installed.
    /// </summary>
    public void ApplyUpgrades()
    {
        if (!_upgradesWanted) return;
        _upgradesWanted = false;
        foreach (var s in _slots)
        {
            if (!s.UpgradeWanted) continue;
            s.UpgradeWanted = false;
            if (s.IsWhole || !s.MayBeWhole) continue;
            if (!_mmu.TryInstallWholeSlot(s.Slot, out long epoch))
            {
                s.FailedEpoch = s.Table!.PermissionEpoch;
                continue;
            }
            _uc.Protect(s.Slot.GuestPhysAddr, s.Slot.Size, s.Slot.IsReadOnly ? UC_PROT_READ | UC_PROT_EXEC : UC_PROT_ALL);
            s.IsWhole = true;
            s.Epoch = epoch;
            _upgrades++;
        }
    }

    /// <summary>
    /// The vCPU's TLB flush (<see cref="ITlbFlushTarget.FlushTlb"/>): every whole mapping whose table lost a
    /// permission since it was made goes back to trapped, then QEMU's TLB is emptied so that the next access
    /// to any page is checked against the SPTEs again.
    /// </summary>
    public void Flush()
    {
        foreach (var s in _slots)
        {
            if (!s.IsWhole) continue;
            var t = s.Table!;
            if (!t.IsRetired && t.PermissionEpoch == s.Epoch) continue;
            _uc.Protect(s.Slot.GuestPhysAddr, s.Slot.Size, UC_PROT_NONE);
            s.IsWhole = false;
            _downgrades++;
        }
        _uc.FlushTlb();
        _flushes++;
    }
}
