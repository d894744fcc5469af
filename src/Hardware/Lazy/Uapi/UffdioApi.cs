using System.Runtime.InteropServices;

namespace Actorvisor.Hardware.Lazy.Uapi;

/// <summary>struct uffdio_api: the UFFDIO_API handshake (the API version and features asked for; the kernel answers with what it supports).</summary>
[StructLayout(LayoutKind.Explicit, Size = Size)]
public struct UffdioApi
{
    /// <summary>sizeof(struct uffdio_api).</summary>
    public const int Size = 24;
    /// <summary>In: UFFD_API.</summary>
    [FieldOffset(0)] public ulong Api;
    /// <summary>In: features requested; out: every feature the kernel supports.</summary>
    [FieldOffset(8)] public ulong Features;
    /// <summary>Out: bit mask of the ioctls available on the descriptor (1 &lt;&lt; _UFFDIO_*).</summary>
    [FieldOffset(16)] public ulong Ioctls;
}
