using System.Runtime.InteropServices;

namespace Actorvisor.Hardware.Lazy.Uapi;

/// <summary>struct uffdio_range: a page-aligned range of the process's address space.</summary>
[StructLayout(LayoutKind.Explicit, Size = Size)]
public struct UffdioRange
{
    /// <summary>sizeof(struct uffdio_range).</summary>
    public const int Size = 16;
    /// <summary>First byte (page aligned).</summary>
    [FieldOffset(0)] public ulong Start;
    /// <summary>Length in bytes (a multiple of the page size).</summary>
    [FieldOffset(8)] public ulong Len;
}
