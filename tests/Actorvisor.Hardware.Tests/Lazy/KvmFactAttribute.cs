using Actorvisor.Hardware.Kvm;

namespace Actorvisor.Hardware.Tests.Lazy;

/// <summary>A fact that needs a usable /dev/kvm: reported as skipped, with the reason, where there is none.</summary>
public sealed class KvmFactAttribute : FactAttribute
{
    public KvmFactAttribute()
    {
        if (!KvmAccelerator.IsHardwareAssistedAvailable(out var reason)) Skip = reason;
    }
}
