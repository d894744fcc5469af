using System.Runtime.InteropServices;

namespace Actorvisor.Hardware.Lazy.Uapi;

/// <summary>
/// struct uffd_msg (packed, 32 bytes): one message read from a userfaultfd. Only the page-fault arm of the
/// union is laid out, since that is the only event Actorvisor enables.
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = Size)]
public struct UffdMsg
{
    /// <summary>sizeof(struct uffd_msg).</summary>
    public const int Size = 32;
    /// <summary>UFFD_EVENT_* code.</summary>
    [FieldOffset(0)] public byte Event;
    /// <summary>arg.pagefault.flags: UFFD_PAGEFAULT_FLAG_* bits.</summary>
    [FieldOffset(8)] public ulong PageFaultFlags;
    /// <summary>arg.pagefault.address: the faulting address (page aligned unless UFFD_FEATURE_EXACT_ADDRESS).</summary>
    [FieldOffset(16)] public ulong PageFaultAddress;
    /// <summary>arg.pagefault.feat.ptid: the faulting thread's id (with UFFD_FEATURE_THREAD_ID).</summary>
    [FieldOffset(24)] public uint PageFaultThreadId;

    /// <summary>True for a UFFD_EVENT_PAGEFAULT message.</summary>
    public readonly bool IsPageFault => Event == UffdIoctl.EventPageFault;
}
