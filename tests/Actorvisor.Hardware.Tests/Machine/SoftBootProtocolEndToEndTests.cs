using Actorvisor.Hardware.Accel;
using Actorvisor.Hardware.Soft;

namespace Actorvisor.Hardware.Tests.Machines;

/// <summary>The boot-protocol tests on the software accelerator (never skipped).</summary>
public sealed class SoftBootProtocolEndToEndTests : BootProtocolEndToEndTests
{
    protected override IAccelerator CreateAccelerator() => new SoftAccelerator();
}
