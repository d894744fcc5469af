using System.Runtime.InteropServices;

namespace Actorvisor.Hardware.Kvm.Abi;

/// <summary>
/// struct kvm_signal_mask (include/uapi/linux/kvm.h) with its flexible sigset[] sized for x86-64: the
/// signal mask the vCPU thread has while inside KVM_RUN (api.rst "KVM_SET_SIGNAL_MASK").
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = 12)]
public struct KvmSignalMask
{
    /// <summary>Size of the header the kernel's ioctl number encodes (just <c>len</c>).</summary>
    public const uint HeaderSize = 4;

    /// <summary>Size of the sigset in bytes: the kernel's sigset_t on x86-64 is 8 bytes.</summary>
    [FieldOffset(0)] public uint Len;
    /// <summary>The kernel sigset: bit (signo - 1) set means blocked.</summary>
    [FieldOffset(4)] public ulong Sigset;
}
