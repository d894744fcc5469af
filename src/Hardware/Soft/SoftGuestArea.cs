using Actorvisor.Hardware.AsyncPf;

namespace Actorvisor.Hardware.Soft;

/// <summary>
/// A software-accelerator VM's RAM as the async page-fault protocol's area accessor: 4-byte aligned accesses
/// through the current memslots, marked dirty like KVM's kvm_write_guest. A lazy page that is not populated yet
/// counts as absent (answering false rather than blocking the caller on its fetch), as does a read-only slot for
/// writes.
/// </summary>
internal sealed unsafe class SoftGuestArea(SoftVm vm) : IAsyncPfGuestArea
{
    public bool TryRead32(ulong gpa, out uint value)
    {
        value = 0;
        if (!TryHost(gpa, out nint host, out _)) return false;
        value = Volatile.Read(ref *(uint*)host);
        return true;
    }

    public bool TryWrite32(ulong gpa, uint value)
    {
        if (!TryHost(gpa, out nint host, out var slot) || slot.IsReadOnly) return false;
        Volatile.Write(ref *(uint*)host, value);
        vm.Mmu.MarkPageDirty(gpa);
        return true;
    }

    private bool TryHost(ulong gpa, out nint host, out Memory.Memslot slot)
    {
        slot = null!;
        host = 0;
        if ((gpa & 3) != 0) return false;
        if (!vm.Memslots.TryTranslate(gpa, 4, out host, out var found) || found is null || !found.IsPopulated(gpa)) return false;
        slot = found;
        return true;
    }
}
