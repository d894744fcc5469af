using Actorvisor.Hardware.Accel;
using Actorvisor.Hardware.Kvm;

namespace Actorvisor.Hardware.Tests.Machines;

/// <summary>The end-to-end machine tests on KVM; skipped where /dev/kvm is not usable.</summary>
public sealed class KvmMachineEndToEndTests : MachineEndToEndTests, IAcceleratorAvailability
{
    public static string? UnavailableReason => KvmAccelerator.IsHardwareAssistedAvailable(out var reason) ? null : reason;

    protected override IAccelerator CreateAccelerator() => KvmAccelerator.Open();

    protected override bool NotifiesThroughEventFds => true;
}
