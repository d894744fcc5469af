using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace Actorvisor.Hardware.Kvm.Abi;

/// <summary>struct kvm_lapic_state (arch/x86/include/uapi/asm/kvm.h): the 1 KiB local APIC register page of KVM_GET/SET_LAPIC.</summary>
[StructLayout(LayoutKind.Sequential, Size = Size)]
public unsafe struct KvmLapicState
{
    /// <summary>KVM_APIC_REG_SIZE.</summary>
    public const int Size = 0x400;
    /// <summary>LVT LINT0 register offset.</summary>
    public const int LvtLint0 = 0x350;
    /// <summary>LVT LINT1 register offset.</summary>
    public const int LvtLint1 = 0x360;

    /// <summary>The registers, each 32-bit value at its architectural offset.</summary>
    public fixed byte Regs[Size];

    /// <summary>The 32-bit register at <paramref name="offset"/>.</summary>
    public uint Read(int offset)
    {
        if ((uint)offset > Size - 4) throw new ArgumentOutOfRangeException(nameof(offset));
        fixed (byte* p = Regs) return BinaryPrimitives.ReadUInt32LittleEndian(new ReadOnlySpan<byte>(p + offset, 4));
    }

    /// <summary>Sets the 32-bit register at <paramref name="offset"/>.</summary>
    public void Write(int offset, uint value)
    {
        if ((uint)offset > Size - 4) throw new ArgumentOutOfRangeException(nameof(offset));
        fixed (byte* p = Regs) BinaryPrimitives.WriteUInt32LittleEndian(new Span<byte>(p + offset, 4), value);
    }
}
