using Actorvisor.Actors.Registry;
using Actorvisor.Actors.Tests.Support;
using Actorvisor.Actors.Vfio;
using Actorvisor.Actors.Vm;
using Actorvisor.Hardware.Guests;
using Actorvisor.Hardware.Tests.Vfio;
using Actorvisor.Hardware.Vfio;
using Xunit.Abstractions;

namespace Actorvisor.Actors.Tests.Vfio;

/// <summary>
/// VMs whose KVM-VFIO device accepts stand-in VFIO files (<see cref="StandInVfioFiles"/>): the runtime's device
/// (the kernel's would refuse regular files, rightly) with the stand-ins' answers; every other file is judged by
/// the real classifier.
/// </summary>
public abstract class VfioVmTestKit(ITestOutputHelper output) : VmTestKit(output)
{
    /// <summary>The stand-in VFIO files of the test.</summary>
    protected StandInVfioFiles StandIns { get; } = new();

    /// <summary>A spec for a spinning guest with <paramref name="vfioFiles"/> attached at creation.</summary>
    protected VmActorSpec VfioSpec(string name, params string[] vfioFiles) =>
        Spec(name, TestGuests.Spin()) with
        {
            VfioFiles = vfioFiles,
            KvmVfioDevice = _ => new SoftKvmVfioDevice(StandIns),
        };

    /// <summary>Creates the VM of <paramref name="spec"/> on <paramref name="node"/>, subscribed to its events.</summary>
    protected TestVm Create(IActorRef node, VmActorSpec spec)
    {
        node.Tell(new CreateVm(spec));
        var created = ExpectMsg<VmCreated>(Long);
        var events = CreateTestProbe();
        created.Vm.Tell(new SubscribeVm(events.Ref));
        ExpectMsg<VmSubscribed>();
        return new TestVm(spec.Name, created.Vm, events, null!);
    }

    /// <summary>Sends <paramref name="request"/> to the VM and expects it refused with a VFIO error, which it returns.</summary>
    protected VfioError RefusedWith(TestVm vm, object request)
    {
        var failed = Ask<VmRequestFailed>(vm, request);
        Assert.Equal(vm.Name, failed.VmName);
        return Assert.IsType<VmError.VfioRefused>(failed.Error).Error;
    }

    /// <inheritdoc />
    protected override void AfterAll()
    {
        base.AfterAll();
        StandIns.Dispose();
    }
}
