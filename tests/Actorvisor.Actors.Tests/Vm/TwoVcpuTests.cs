using Actorvisor.Actors.Tests.Support;
using Actorvisor.Actors.Vm;
using Actorvisor.Hardware.Guests;
using Xunit.Abstractions;

namespace Actorvisor.Actors.Tests.Vm;

/// <summary>A guest on two vCPUs, each on its own vCPU thread under its own VcpuActor.</summary>
public class TwoVcpuTests(ITestOutputHelper output) : VmTestKit(output)
{
    [Fact]
    public void Both_vcpus_fill_their_regions_and_vcpu0_reports_both_sums()
    {
        var node = StartNode();
        var guest = GuestLibrary.TwoVcpuWriter(regionPages: 16);
        var vm = CreateVm(node, "two", guest);
        Assert.Equal(2, Ask<VmDescription>(vm, GetVmDescription.Instance).VcpuCount);
        Start(vm);
        var events = EventsUntilEnd(vm);
        Assert.Equal(guest.ExpectedConsole, Console(events));
        Assert.Equal(new VmOutcome.Exited(2), events.OfType<VmEnded>().Single().Outcome);
    }
}
