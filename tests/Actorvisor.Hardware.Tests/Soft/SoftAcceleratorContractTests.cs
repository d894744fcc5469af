using Actorvisor.Hardware.Accel;
using Actorvisor.Hardware.Soft;
using Actorvisor.Hardware.Tests.Contract;

namespace Actorvisor.Hardware.Tests.Soft;

/// <summary>The accelerator contract on the software accelerator (Unicorn).</summary>
public sealed class SoftAcceleratorContractTests : AcceleratorContractTests
{
    protected override IAccelerator CreateAccelerator() => new SoftAccelerator();
}
