using Actorvisor.Hardware.Accel;
using Actorvisor.Hardware.Kvm;

namespace Actorvisor.Host.Cli;

/// <summary>
/// Owns the rule that a Linux kernel runs on KVM only: Linux needs an interrupt controller and timers (the in-kernel
/// PIC, IOAPIC, LAPIC and PIT), which the software accelerator does not have, so `run --kernel` refuses it up front
/// (exit 2, with the reason) instead of starting a guest that would hang.
/// </summary>
public static class LinuxGuestRequirement
{
    /// <summary>Why a Linux kernel cannot run with <paramref name="preference"/> on this host, or null if it can (KVM is usable).</summary>
    public static string? WhyNot(AcceleratorPreference preference)
    {
        const string need = "a Linux kernel needs KVM (its in-kernel interrupt controllers and timers); the software accelerator cannot boot Linux";
        return preference switch
        {
            AcceleratorPreference.Software => $"{need}: use --accelerator kvm or auto on a host with a usable /dev/kvm",
            AcceleratorPreference.Kvm => KvmAccelerator.IsAvailable(out var why) ? null : $"{need}, and KVM is not usable here: {why}",
            _ => KvmAccelerator.IsHardwareAssistedAvailable(out var reason) ? null : $"{need}, and KVM is not usable here: {reason}",
        };
    }
}
