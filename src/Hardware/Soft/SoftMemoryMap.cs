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
/// hook after a slow-path fault), <see cref="ApplyUpgrades"/> from the run loop outside guest mode. Installing every
/// SPTE of a slot costs time in proportion to its size (2-11 ms for 1 GiB on the shared build VM), so a slot above
/// <see cref="InlineInstallBytes"/> has its SPTEs installed on a thread-pool thread while the guest goes on trapped;
/// the vCPU is woken when they are in and maps the slot whole at its next entry.
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

        /// <summary>The install of every SPTE of a large slot running off the vCPU thread (its epoch, or null if it failed), or null.</summary>
        public Task<long?>? Install { get; set; }

        /// <summary>True if the slot may be mapped whole at all (it does not log dirty pages).</summary>
        public bool MayBeWhole => Table is not null && !Slot.LogsDirtyPages;
    }

    /// <summary>
    /// The largest slot whose SPTEs are installed on the vCPU thread when a fault asks for the whole slot (16 MiB, 4096
    /// SPTEs: tens of microseconds); a larger one's are installed off it.
    /// </summary>
    public const ulong InlineInstallBytes = 16UL << 20;

    private readonly UnicornEngine _uc;
    private readonly SoftMmu _mmu;
    private readonly SlotMapping[] _slots;
    private readonly Action _installFinished;
    private bool _upgradesWanted;
    private volatile bool _installsDone;
    private long _downgrades, _upgrades, _flushes;

    /// <summary>
    /// Describes the slots of <paramref name="memslots"/>, which the engine has mapped trapped. <paramref name="installFinished"/>
    /// is called (on a thread-pool thread) when a large slot's SPTEs are all in: it should stop the vCPU at its next block start.
    /// </summary>
    public SoftMemoryMap(UnicornEngine uc, SoftMmu mmu, MemslotSet memslots, Action installFinished)
    {
        _uc = uc;
        _mmu = mmu;
        _installFinished = installFinished;
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

    /// <summary>Test seam: runs on the thread-pool thread of an install off the vCPU thread, after it installed the SPTEs and before it tells the vCPU.</summary>
    internal Action? InstallFinishingForTest { get; set; }

    /// <summary>True once an install off the vCPU thread has finished and <see cref="ApplyUpgrades"/> has not yet looked at it.</summary>
    public bool InstallFinished => _installsDone;

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
        if (s.IsWhole || s.UpgradeWanted || s.Install is not null || !s.MayBeWhole || s.FailedEpoch == s.Table!.PermissionEpoch) return false;
        s.UpgradeWanted = true;
        _upgradesWanted = true;
        return true;
    }

    /// <summary>
    /// Run loop, outside guest mode (before <see cref="TlbFlushParticipant.EnterGuest"/>, which re-checks what
    /// this mapped): maps whole every slot a fault asked for whose SPTEs can all be installed, now for a small slot,
    /// once the install off the vCPU thread has finished for a large one (starting it if a fault just asked).
    /// </summary>
    public void ApplyUpgrades()
    {
        if (!_upgradesWanted && !_installsDone) return;
        _upgradesWanted = false;
        // Cleared before looking: an install that finishes meanwhile sets it again and is seen next time.
        _installsDone = false;
        foreach (var s in _slots)
        {
            if (s.Install is { IsCompleted: true } install)
            {
                s.Install = null;
                MapWhole(s, install.GetAwaiter().GetResult());
                continue;
            }
            if (!s.UpgradeWanted) continue;
            s.UpgradeWanted = false;
            if (s.IsWhole || !s.MayBeWhole) continue;
            if (s.Slot.Size <= InlineInstallBytes)
                MapWhole(s, InstallWholeSlot(s.Slot));
            else
                s.Install = InstallOffThread(s.Slot);
        }
    }

    private long? InstallWholeSlot(Memslot slot) => _mmu.TryInstallWholeSlot(slot, out long epoch) ? epoch : null;

    private Task<long?> InstallOffThread(Memslot slot) => Task.Run(() =>
    {
        try
        {
            var epoch = InstallWholeSlot(slot);
            InstallFinishingForTest?.Invoke();
            return epoch;
        }
        finally
        {
            _installsDone = true;
            _installFinished();
        }
    });

    /// <summary>
    /// Maps <paramref name="s"/> whole after its SPTEs were installed at <paramref name="epoch"/> (null: they could not
    /// all be). Not if the table lost a permission since: an install off the vCPU thread may be older than a flush this
    /// vCPU already applied.
    /// </summary>
    private void MapWhole(SlotMapping s, long? epoch)
    {
        var table = s.Table!;
        if (epoch is not { } installed)
        {
            s.FailedEpoch = table.PermissionEpoch;
            return;
        }
        if (table.IsRetired || table.PermissionEpoch != installed) return;
        _uc.Protect(s.Slot.GuestPhysAddr, s.Slot.Size, s.Slot.IsReadOnly ? UC_PROT_READ | UC_PROT_EXEC : UC_PROT_ALL);
        s.IsWhole = true;
        s.Epoch = installed;
        _upgrades++;
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
