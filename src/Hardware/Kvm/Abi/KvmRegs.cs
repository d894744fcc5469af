using System.Runtime.InteropServices;
using Actorvisor.Hardware.X86;

namespace Actorvisor.Hardware.Kvm.Abi;

/// <summary>struct kvm_regs (arch/x86/include/uapi/asm/kvm.h), the argument of KVM_GET_REGS / KVM_SET_REGS.</summary>
[StructLayout(LayoutKind.Explicit, Size = 144)]
public struct KvmRegs
{
    /// <summary>RAX.</summary>
    [FieldOffset(0)] public ulong Rax;
    /// <summary>RBX.</summary>
    [FieldOffset(8)] public ulong Rbx;
    /// <summary>RCX.</summary>
    [FieldOffset(16)] public ulong Rcx;
    /// <summary>RDX.</summary>
    [FieldOffset(24)] public ulong Rdx;
    /// <summary>RSI.</summary>
    [FieldOffset(32)] public ulong Rsi;
    /// <summary>RDI.</summary>
    [FieldOffset(40)] public ulong Rdi;
    /// <summary>RSP.</summary>
    [FieldOffset(48)] public ulong Rsp;
    /// <summary>RBP.</summary>
    [FieldOffset(56)] public ulong Rbp;
    /// <summary>R8.</summary>
    [FieldOffset(64)] public ulong R8;
    /// <summary>R9.</summary>
    [FieldOffset(72)] public ulong R9;
    /// <summary>R10.</summary>
    [FieldOffset(80)] public ulong R10;
    /// <summary>R11.</summary>
    [FieldOffset(88)] public ulong R11;
    /// <summary>R12.</summary>
    [FieldOffset(96)] public ulong R12;
    /// <summary>R13.</summary>
    [FieldOffset(104)] public ulong R13;
    /// <summary>R14.</summary>
    [FieldOffset(112)] public ulong R14;
    /// <summary>R15.</summary>
    [FieldOffset(120)] public ulong R15;
    /// <summary>RIP.</summary>
    [FieldOffset(128)] public ulong Rip;
    /// <summary>RFLAGS.</summary>
    [FieldOffset(136)] public ulong Rflags;

    /// <summary>The kernel struct for <paramref name="r"/>.</summary>
    public static KvmRegs From(in Registers r) => new()
    {
        Rax = r.Rax, Rbx = r.Rbx, Rcx = r.Rcx, Rdx = r.Rdx, Rsi = r.Rsi, Rdi = r.Rdi, Rsp = r.Rsp, Rbp = r.Rbp,
        R8 = r.R8, R9 = r.R9, R10 = r.R10, R11 = r.R11, R12 = r.R12, R13 = r.R13, R14 = r.R14, R15 = r.R15,
        Rip = r.Rip, Rflags = r.Rflags,
    };

    /// <summary>This struct as Actorvisor's <see cref="Registers"/>.</summary>
    public readonly Registers ToRegisters() => new()
    {
        Rax = Rax, Rbx = Rbx, Rcx = Rcx, Rdx = Rdx, Rsi = Rsi, Rdi = Rdi, Rsp = Rsp, Rbp = Rbp,
        R8 = R8, R9 = R9, R10 = R10, R11 = R11, R12 = R12, R13 = R13, R14 = R14, R15 = R15,
        Rip = Rip, Rflags = Rflags,
    };
}
