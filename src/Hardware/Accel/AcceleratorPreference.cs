namespace Actorvisor.Hardware.Accel;

/// <summary>Which accelerator a caller asks for.</summary>
public enum AcceleratorPreference
{
    /// <summary>KVM if /dev/kvm is usable, else the software accelerator.</summary>
    Auto,
    /// <summary>KVM only; fail if /dev/kvm is not usable.</summary>
    Kvm,
    /// <summary>The software accelerator only.</summary>
    Software,
}
