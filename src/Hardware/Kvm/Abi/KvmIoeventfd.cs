using System.Runtime.InteropServices;

namespace Actorvisor.Hardware.Kvm.Abi;

/// <summary>
/// struct kvm_ioeventfd (include/uapi/linux/kvm.h), the argument of KVM_IOEVENTFD: a guest write of <see cref="Len"/>
/// bytes at <see cref="Addr"/> (MMIO, or a port with <see cref="FlagPio"/>) signals the eventfd <see cref="Fd"/> in the
/// kernel instead of exiting to userspace; with <see cref="FlagDatamatch"/> only a write of <see cref="Datamatch"/>.
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = 64)]
public struct KvmIoeventfd
{
    /// <summary>KVM_IOEVENTFD_FLAG_DATAMATCH.</summary>
    public const uint FlagDatamatch = 1;
    /// <summary>KVM_IOEVENTFD_FLAG_PIO.</summary>
    public const uint FlagPio = 2;
    /// <summary>KVM_IOEVENTFD_FLAG_DEASSIGN.</summary>
    public const uint FlagDeassign = 4;

    /// <summary>The value a write must carry (with <see cref="FlagDatamatch"/>).</summary>
    [FieldOffset(0)] public ulong Datamatch;
    /// <summary>The guest-physical address (or port).</summary>
    [FieldOffset(8)] public ulong Addr;
    /// <summary>The access width: 1, 2, 4 or 8 (0 matches any width, without data match).</summary>
    [FieldOffset(16)] public uint Len;
    /// <summary>The eventfd.</summary>
    [FieldOffset(20)] public int Fd;
    /// <summary>KVM_IOEVENTFD_FLAG_*.</summary>
    [FieldOffset(24)] public uint Flags;
}
