using Actorvisor.Hardware.Memory;
using Actorvisor.Hardware.Mmu;

namespace Actorvisor.Hardware.Accel;

/// <summary>
/// One VM of an accelerator: owns its guest-physical memory map (memslots) and its vCPUs.
/// Memory region calls and vCPU creation are not thread-safe against each other; the caller
/// serialises them (the VmActor / MemslotSetActor mailbox).
/// </summary>
public interface IVirtualMachine : IDisposable
{
    /// <summary>The accelerator that created this VM.</summary>
    AcceleratorKind Kind { get; }

    /// <summary>The current memslots (an immutable snapshot).</summary>
    MemslotSet Memslots { get; }

    /// <summary>
    /// Adds a memslot, or replaces the slot with the same id (KVM_SET_USER_MEMORY_REGION).
    /// The caller keeps the host memory mapped until the slot is deleted and the VM disposed.
    /// </summary>
    /// <exception cref="MemslotException">the slot overlaps another.</exception>
    void SetMemoryRegion(Memslot slot);

    /// <summary>Deletes a memslot (KVM: the same ioctl with size 0).</summary>
    void DeleteMemoryRegion(uint slotId);

    /// <summary>
    /// Dirty-page logging of the memslots created with <see cref="MemslotFlags.LogDirtyPages"/>: KVM_GET_DIRTY_LOG
    /// on KVM, the software MMU's SPTEs on the software accelerator, one <see cref="DirtyBitmap"/> either way.
    /// </summary>
    IDirtyLog DirtyLog { get; }

    /// <summary>Creates vCPU <paramref name="id"/>. Each vCPU is run by one thread at a time.</summary>
    IVirtualCpu CreateVcpu(int id);

    /// <summary>The vCPUs created so far.</summary>
    IReadOnlyList<IVirtualCpu> Vcpus { get; }

    /// <summary>
    /// The VM-wide state that lives beside the vCPUs as an opaque, versioned blob for a snapshot (on KVM the
    /// in-kernel irqchip, PIT and clock). Only valid while no vCPU runs.
    /// </summary>
    /// <exception cref="NotSupportedException">this accelerator cannot save its VM state (yet).</exception>
    byte[] SavePlatformState();

    /// <summary>Loads a blob <see cref="SavePlatformState"/> produced by a VM of the same accelerator kind, before any vCPU runs.</summary>
    /// <exception cref="FormatException">the blob is not a platform state of this accelerator, version or vCPU count.</exception>
    void RestorePlatformState(ReadOnlySpan<byte> state);
}
