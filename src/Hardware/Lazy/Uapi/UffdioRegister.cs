using System.Runtime.InteropServices;

namespace Actorvisor.Hardware.Lazy.Uapi;

/// <summary>struct uffdio_register: UFFDIO_REGISTER's argument.</summary>
[StructLayout(LayoutKind.Explicit, Size = Size)]
public struct UffdioRegister
{
    /// <summary>sizeof(struct uffdio_register).</summary>
    public const int Size = 32;
    /// <summary>The range to register.</summary>
    [FieldOffset(0)] public UffdioRange Range;
    /// <summary>UFFDIO_REGISTER_MODE_* bits.</summary>
    [FieldOffset(16)] public ulong Mode;
    /// <summary>Out: bit mask of the ioctls the range supports (1 &lt;&lt; _UFFDIO_*).</summary>
    [FieldOffset(24)] public ulong Ioctls;
}
