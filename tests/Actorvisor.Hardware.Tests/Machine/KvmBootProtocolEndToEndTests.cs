using Actorvisor.Hardware.Accel;
using Actorvisor.Hardware.Kvm;

namespace Actorvisor.Hardware.Tests.Machines;

/// <summary>The boot-protocol tests on KVM; skipped where /dev/kvm is not usable (the KVM harness runs them).</summary>
public sealed class KvmBootProtocolEndToEndTests : BootProtocolEndToEndTests, IAcceleratorAvailability
{
    public static string? UnavailableReason => KvmAccelerator.IsHardwareAssistedAvailable(out var reason) ? null : reason;

    protected override IAccelerator CreateAccelerator() => KvmAccelerator.Open();
}
