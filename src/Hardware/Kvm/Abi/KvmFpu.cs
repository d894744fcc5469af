using System.Runtime.InteropServices;

namespace Actorvisor.Hardware.Kvm.Abi;

/// <summary>struct kvm_fpu (arch/x86/include/uapi/asm/kvm.h): the x87 and SSE state of KVM_GET/SET_FPU.</summary>
[StructLayout(LayoutKind.Explicit, Size = 416)]
public unsafe struct KvmFpu
{
    /// <summary>The x87 registers, 16 bytes each.</summary>
    [FieldOffset(0)] public fixed byte Fpr[128];
    /// <summary>x87 control word.</summary>
    [FieldOffset(128)] public ushort Fcw;
    /// <summary>x87 status word.</summary>
    [FieldOffset(130)] public ushort Fsw;
    /// <summary>Abridged tag word.</summary>
    [FieldOffset(132)] public byte Ftwx;
    /// <summary>Last x87 opcode.</summary>
    [FieldOffset(134)] public ushort LastOpcode;
    /// <summary>Last x87 instruction pointer.</summary>
    [FieldOffset(136)] public ulong LastIp;
    /// <summary>Last x87 data pointer.</summary>
    [FieldOffset(144)] public ulong LastDp;
    /// <summary>XMM0-15.</summary>
    [FieldOffset(152)] public fixed byte Xmm[256];
    /// <summary>SSE control and status.</summary>
    [FieldOffset(408)] public uint Mxcsr;
}
