namespace Actorvisor.Hardware.Accel;

/// <summary>
/// A way to run x86 guests (KVM, or the software accelerator). Owns nothing but the capability to
/// create VMs; the shape follows KVM's API: accelerator -> VM -> vCPU.
/// </summary>
public interface IAccelerator : IDisposable
{
    /// <summary>Which accelerator this is.</summary>
    AcceleratorKind Kind { get; }

    /// <summary>A human-readable description ("KVM (API 12)", "software (Unicorn 2.0.1)").</summary>
    string Description { get; }

    /// <summary>Creates an empty VM: no memory, no vCPUs.</summary>
    IVirtualMachine CreateVm();
}
