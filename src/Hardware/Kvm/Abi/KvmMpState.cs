using System.Runtime.InteropServices;

namespace Actorvisor.Hardware.Kvm.Abi;

/// <summary>struct kvm_mp_state (include/uapi/linux/kvm.h): a vCPU's multiprocessing state (KVM_GET/SET_MP_STATE).</summary>
[StructLayout(LayoutKind.Explicit, Size = 4)]
public struct KvmMpState
{
    /// <summary>KVM_MP_STATE_RUNNABLE: the vCPU runs.</summary>
    public const uint Runnable = 0;
    /// <summary>KVM_MP_STATE_UNINITIALIZED: an application processor waiting for INIT.</summary>
    public const uint Uninitialized = 1;
    /// <summary>KVM_MP_STATE_INIT_RECEIVED: INIT seen, waiting for SIPI.</summary>
    public const uint InitReceived = 2;
    /// <summary>KVM_MP_STATE_HALTED: halted in the in-kernel LAPIC until an interrupt.</summary>
    public const uint Halted = 3;

    /// <summary>One of the constants.</summary>
    [FieldOffset(0)] public uint State;
}
