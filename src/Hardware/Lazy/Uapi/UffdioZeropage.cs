using System.Runtime.InteropServices;

namespace Actorvisor.Hardware.Lazy.Uapi;

/// <summary>struct uffdio_zeropage: UFFDIO_ZEROPAGE's argument (map the shared zero page over missing pages).</summary>
[StructLayout(LayoutKind.Explicit, Size = Size)]
public struct UffdioZeropage
{
    /// <summary>sizeof(struct uffdio_zeropage).</summary>
    public const int Size = 32;
    /// <summary>The range to fill.</summary>
    [FieldOffset(0)] public UffdioRange Range;
    /// <summary>UFFDIO_ZEROPAGE_MODE_* bits.</summary>
    [FieldOffset(16)] public ulong Mode;
    /// <summary>Out: bytes zero-mapped, or a negated errno.</summary>
    [FieldOffset(24)] public long Zeropage;
}
