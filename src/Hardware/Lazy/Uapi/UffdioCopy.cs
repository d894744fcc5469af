using System.Runtime.InteropServices;

namespace Actorvisor.Hardware.Lazy.Uapi;

/// <summary>struct uffdio_copy: UFFDIO_COPY's argument (atomically fill missing pages with a copy of src).</summary>
[StructLayout(LayoutKind.Explicit, Size = Size)]
public struct UffdioCopy
{
    /// <summary>sizeof(struct uffdio_copy).</summary>
    public const int Size = 40;
    /// <summary>Destination in the registered range (page aligned).</summary>
    [FieldOffset(0)] public ulong Dst;
    /// <summary>Source buffer in this process.</summary>
    [FieldOffset(8)] public ulong Src;
    /// <summary>Bytes to copy (a multiple of the page size).</summary>
    [FieldOffset(16)] public ulong Len;
    /// <summary>UFFDIO_COPY_MODE_* bits.</summary>
    [FieldOffset(24)] public ulong Mode;
    /// <summary>Out: bytes copied, or a negated errno.</summary>
    [FieldOffset(32)] public long Copy;
}
