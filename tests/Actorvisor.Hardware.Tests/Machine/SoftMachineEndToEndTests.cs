using Actorvisor.Hardware.Accel;
using Actorvisor.Hardware.Soft;

namespace Actorvisor.Hardware.Tests.Machines;

/// <summary>
/// The end-to-end machine tests on the software accelerator. Never skipped: the software accelerator is
/// the path that must work everywhere (libunicorn2 is installed by deploy/install-deps.sh).
/// </summary>
public sealed class SoftMachineEndToEndTests : MachineEndToEndTests
{
    protected override IAccelerator CreateAccelerator() => new SoftAccelerator();
}
