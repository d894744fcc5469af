namespace Actorvisor.Hardware.Memory;

/// <summary>Flags of a memslot, with KVM's values (KVM_MEM_LOG_DIRTY_PAGES, KVM_MEM_READONLY).</summary>
[Flags]
public enum MemslotFlags : uint
{
    /// <summary>Plain read/write RAM.</summary>
    None = 0,
    /// <summary>Track writes in a dirty bitmap.</summary>
    LogDirtyPages = 1,
    /// <summary>Guest writes do not reach memory; they exit as MMIO writes.</summary>
    ReadOnly = 2,
}
