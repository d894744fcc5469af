using Actorvisor.Hardware.Native;

namespace Actorvisor.Hardware.Lazy;

/// <summary>One missing-page fault on lazy guest memory, as read from its userfaultfd.</summary>
/// <param name="PageIndex">The faulting page, counted in 4 KiB pages from the start of the region (the backing store's page number).</param>
/// <param name="HostAddress">The faulting host virtual address, as the kernel reported it.</param>
/// <param name="IsWrite">True if the access was a write.</param>
/// <param name="ThreadId">The kernel thread id (gettid) of the faulting thread: the vCPU thread; 0 if the kernel does not report it.</param>
public readonly record struct PageFault(ulong PageIndex, nint HostAddress, bool IsWrite, int ThreadId)
{
    /// <summary>The byte offset of the faulting page within the region.</summary>
    public ulong Offset => PageIndex << PageSize.Shift;
}
