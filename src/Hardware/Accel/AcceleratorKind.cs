namespace Actorvisor.Hardware.Accel;

/// <summary>The accelerators Actorvisor can run guests on.</summary>
public enum AcceleratorKind
{
    /// <summary>Linux KVM through /dev/kvm.</summary>
    Kvm,
    /// <summary>The software accelerator (Unicorn, QEMU's CPU emulator as a library).</summary>
    Software,
}
