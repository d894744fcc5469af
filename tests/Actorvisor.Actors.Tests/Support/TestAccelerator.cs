using Actorvisor.Hardware.Accel;
using Actorvisor.Hardware.Kvm;
using Actorvisor.Hardware.Soft;

namespace Actorvisor.Actors.Tests.Support;

/// <summary>
/// The accelerator the actor tests run real guests on: the software accelerator by default (it needs no
/// /dev/kvm), KVM when ACTORVISOR_TEST_ACCEL=kvm.
/// </summary>
public static class TestAccelerator
{
    /// <summary>The kind the tests use.</summary>
    public static AcceleratorKind Kind =>
        string.Equals(Environment.GetEnvironmentVariable("ACTORVISOR_TEST_ACCEL"), "kvm", StringComparison.OrdinalIgnoreCase)
            ? AcceleratorKind.Kvm
            : AcceleratorKind.Software;

    /// <summary>Opens a new accelerator of <see cref="Kind"/>.</summary>
    public static IAccelerator Create() => Kind == AcceleratorKind.Kvm ? KvmAccelerator.Open() : new SoftAccelerator();
}
