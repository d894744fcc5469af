namespace Actorvisor.Hardware.Mmu;

/// <summary>
/// Dirty-page logging of a VM's memslots, as snapshot and migration code sees it, whichever accelerator
/// runs the VM: the software MMU (<see cref="SoftMmu"/>) harvests its SPTEs, the KVM accelerator harvests
/// KVM_GET_DIRTY_LOG. Logging is switched on per memslot with <see cref="Memory.MemslotFlags.LogDirtyPages"/>.
/// </summary>
public interface IDirtyLog
{
    /// <summary>
    /// True if <see cref="GetDirtyLog"/> leaves pages unprotected and the caller clears them with
    /// <see cref="ClearDirtyLog"/> (KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2).
    /// </summary>
    bool ManualProtect { get; }

    /// <summary>
    /// The pages of slot <paramref name="slotId"/> written since the last harvest (KVM_GET_DIRTY_LOG). Without
    /// <see cref="ManualProtect"/>, every returned page is write-protected again and its bit reset before
    /// this returns, atomically per page, and no vCPU can still write it without a new fault. With it,
    /// nothing is reset or protected: call <see cref="ClearDirtyLog"/> for the pages, before copying them.
    /// </summary>
    /// <exception cref="ArgumentException">no such slot, or the slot does not log dirty pages.</exception>
    DirtyBitmap GetDirtyLog(uint slotId);

    /// <summary>
    /// KVM_CLEAR_DIRTY_LOG: resets and write-protects the pages of slot <paramref name="slotId"/> set in
    /// <paramref name="mask"/> (bit i = page <paramref name="firstPage"/> + i). When it returns, a later guest
    /// write to any of them is reported again, so copy the pages after clearing them, not before.
    /// </summary>
    /// <exception cref="ArgumentException">no such slot, the slot does not log, firstPage is not a multiple of 64, or the mask runs past the slot.</exception>
    /// <exception cref="InvalidOperationException">manual protection is off.</exception>
    void ClearDirtyLog(uint slotId, ulong firstPage, DirtyBitmap mask);
}
