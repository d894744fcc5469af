using Actorvisor.Hardware.Accel;
using Actorvisor.Hardware.Kvm;
using Actorvisor.Hardware.Tests.Contract;
using Actorvisor.Hardware.Tests.Machines;

namespace Actorvisor.Hardware.Tests.Kvm;

/// <summary>
/// The accelerator contract on KVM, unchanged: runs directly where /dev/kvm is hardware-assisted, and inside
/// the QEMU harness (tests/kvm-harness) everywhere else; skipped by plain `dotnet test` where it cannot run.
/// </summary>
public sealed class KvmAcceleratorContractTests : AcceleratorContractTests, IAcceleratorAvailability
{
    public static string? UnavailableReason => KvmAccelerator.IsHardwareAssistedAvailable(out var reason) ? null : reason;

    protected override IAccelerator CreateAccelerator() => KvmAccelerator.Open();
}
