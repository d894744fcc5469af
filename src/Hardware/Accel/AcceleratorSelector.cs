using Actorvisor.Hardware.Kvm;
using Actorvisor.Hardware.Soft;

namespace Actorvisor.Hardware.Accel;

/// <summary>Opens the accelerator a preference asks for, and says why KVM was not used when it was not.</summary>
public static class AcceleratorSelector
{
    /// <summary>
    /// Opens an accelerator. With <see cref="AcceleratorPreference.Auto"/>, hardware-assisted KVM when usable, else the software
    /// accelerator; <paramref name="note"/> then says why KVM was passed over (null when it was used or not asked for).
    /// </summary>
    /// <exception cref="NotSupportedException">KVM was required and is not usable (the message says why).</exception>
    public static IAccelerator Open(AcceleratorPreference preference, out string? note)
    {
        note = null;
        switch (preference)
        {
            case AcceleratorPreference.Software:
                return new SoftAccelerator();
            case AcceleratorPreference.Kvm:
                if (!KvmAccelerator.IsAvailable(out var why)) throw new NotSupportedException($"KVM was requested but is not usable: {why}");
                return KvmAccelerator.Open();
            default:
                if (KvmAccelerator.IsHardwareAssistedAvailable(out var reason)) return KvmAccelerator.Open();
                note = reason;
                return new SoftAccelerator();
        }
    }
}
