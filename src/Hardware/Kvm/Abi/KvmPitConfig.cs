using System.Runtime.InteropServices;

namespace Actorvisor.Hardware.Kvm.Abi;

/// <summary>struct kvm_pit_config (arch/x86/include/uapi/asm/kvm.h), the argument of KVM_CREATE_PIT2.</summary>
[StructLayout(LayoutKind.Explicit, Size = 64)]
public struct KvmPitConfig
{
    /// <summary>KVM_PIT_SPEAKER_DUMMY: KVM also answers port 0x61 (the speaker gate Linux's PIT calibration uses).</summary>
    public const uint SpeakerDummy = 1;

    /// <summary>Flags.</summary>
    [FieldOffset(0)] public uint Flags;
}
