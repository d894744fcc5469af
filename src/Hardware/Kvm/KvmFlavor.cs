namespace Actorvisor.Hardware.Kvm;

/// <summary>
/// Which KVM implementation backs /dev/kvm on this host. Only hardware-assisted KVM (kvm_amd, kvm_intel) is
/// what production hosts run; kvm_pvm (paravirtual KVM without VMX/SVM, found on some cloud VMs) emulates
/// real and protected mode imperfectly (a triple fault can come back as an internal error) and runs exits
/// about 200x slower than the software accelerator here, so automatic selection passes it over.
/// </summary>
public enum KvmFlavor
{
    /// <summary>No KVM module is loaded (or /sys is not readable).</summary>
    None,
    /// <summary>kvm_amd or kvm_intel: hardware-assisted virtualization.</summary>
    HardwareAssisted,
    /// <summary>kvm_pvm: pagetable-based paravirtual KVM.</summary>
    Paravirtual,
}

/// <summary>Detects the <see cref="KvmFlavor"/> of this host from the loaded kernel modules.</summary>
public static class KvmFlavorDetector
{
    /// <summary>The flavor of KVM loaded on this host, from /sys/module.</summary>
    public static KvmFlavor Detect(string sysModule = "/sys/module")
    {
        if (Directory.Exists(Path.Combine(sysModule, "kvm_amd")) || Directory.Exists(Path.Combine(sysModule, "kvm_intel")))
            return KvmFlavor.HardwareAssisted;
        return Directory.Exists(Path.Combine(sysModule, "kvm_pvm")) ? KvmFlavor.Paravirtual : KvmFlavor.None;
    }
}
