namespace Actorvisor.Hardware.X86;

/// <summary>
/// Owns the KVM paravirtual CPUID leaves both accelerators present (Documentation/virt/kvm/x86/cpuid.rst):
/// leaf 0x40000000 (the "KVMKVMKVM\0\0\0" signature and the highest KVM leaf) and leaf 0x40000001 (the
/// KVM_FEATURE_* bits in EAX), advertising the async page-fault protocol.
/// </summary>
public static class KvmParavirtCpuid
{
    /// <summary>KVM_CPUID_SIGNATURE: the signature leaf.</summary>
    public const uint SignatureLeaf = 0x4000_0000;

    /// <summary>KVM_CPUID_FEATURES: the feature leaf, also the highest KVM leaf presented.</summary>
    public const uint FeaturesLeaf = 0x4000_0001;

    /// <summary>"KVMK", "VMKV", "M\0\0\0" as EBX, ECX, EDX of the signature leaf.</summary>
    public const uint SignatureEbx = 0x4b4d_564b, SignatureEcx = 0x564b_4d56, SignatureEdx = 0x0000_004d;

    /// <summary>KVM_FEATURE_ASYNC_PF (bit 4): MSR_KVM_ASYNC_PF_EN is available.</summary>
    public const uint FeatureAsyncPf = 1u << 4;

    /// <summary>KVM_FEATURE_ASYNC_PF_INT (bit 14): "page ready" is delivered as an interrupt (MSR_KVM_ASYNC_PF_INT, _ACK).</summary>
    public const uint FeatureAsyncPfInt = 1u << 14;

    /// <summary>The features the software accelerator presents in leaf 0x40000001 EAX.</summary>
    public const uint SoftFeatures = FeatureAsyncPf | FeatureAsyncPfInt;

    /// <summary>
    /// The output of a KVM leaf on the software accelerator; false for leaves outside 0x40000000-0x40000001
    /// (those keep the CPU model's answer).
    /// </summary>
    public static bool TryGet(uint leaf, out uint eax, out uint ebx, out uint ecx, out uint edx)
    {
        switch (leaf)
        {
            case SignatureLeaf:
                (eax, ebx, ecx, edx) = (FeaturesLeaf, SignatureEbx, SignatureEcx, SignatureEdx);
                return true;
            case FeaturesLeaf:
                (eax, ebx, ecx, edx) = (SoftFeatures, 0, 0, 0);
                return true;
            default:
                (eax, ebx, ecx, edx) = (0, 0, 0, 0);
                return false;
        }
    }
}
