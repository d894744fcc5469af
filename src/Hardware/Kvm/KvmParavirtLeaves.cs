using Actorvisor.Hardware.Kvm.Abi;
using Actorvisor.Hardware.X86;

namespace Actorvisor.Hardware.Kvm;

/// <summary>
/// Owns the KVM paravirtual CPUID leaves a KVM vCPU gets through KVM_SET_CPUID2: the signature leaf 0x40000000
/// and the feature leaf 0x40000001 as KVM_GET_SUPPORTED_CPUID reports them (the kernel lists the features it
/// implements, async page faults among them), so the guest sees the same "KVMKVMKVM" leaves as on the
/// software accelerator (<see cref="KvmParavirtCpuid"/>). Kept apart from the rest of the CPUID set up.
/// </summary>
internal static class KvmParavirtLeaves
{
    /// <summary>
    /// Returns <paramref name="entries"/> with the signature leaf (added if the supported set lacks it, its EAX at
    /// least the feature leaf). The feature leaf stays exactly as the kernel reports it: advertising a feature
    /// the kernel lacks would make the guest use MSRs KVM refuses.
    /// </summary>
    public static KvmCpuidEntry2[] Apply(KvmCpuidEntry2[] entries)
    {
        var list = entries.ToList();
        int sig = list.FindIndex(e => e.Function == KvmParavirtCpuid.SignatureLeaf);
        var signature = new KvmCpuidEntry2
        {
            Function = KvmParavirtCpuid.SignatureLeaf,
            Eax = KvmParavirtCpuid.FeaturesLeaf,
            Ebx = KvmParavirtCpuid.SignatureEbx,
            Ecx = KvmParavirtCpuid.SignatureEcx,
            Edx = KvmParavirtCpuid.SignatureEdx,
        };
        if (sig < 0) list.Add(signature);
        else if (list[sig].Eax < KvmParavirtCpuid.FeaturesLeaf) list[sig] = list[sig] with { Eax = KvmParavirtCpuid.FeaturesLeaf };
        return [.. list];
    }
}
