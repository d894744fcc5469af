using Actorvisor.Actors.Devices;
using Actorvisor.Actors.Registry;
using Actorvisor.Actors.Vm;
using Actorvisor.Hardware.Accel;
using Actorvisor.Hardware.Guests;
using Actorvisor.Hardware.Machines;
using Akka.TestKit;
using Akka.TestKit.Xunit2;
using Xunit.Abstractions;

namespace Actorvisor.Actors.Tests.Support;

/// <summary>A VM created for a test: its actor, a probe subscribed to its events, and the machine behind it.</summary>
public sealed record TestVm(string Name, IActorRef Vm, TestProbe Events, MachineParts Machine);

/// <summary>
/// TestKit with a real accelerator and helpers to create VMs running real guests through a VmRegistryActor.
/// Waits are bounded expectations on messages, never sleeps.
/// </summary>
public abstract class VmTestKit : TestKit
{
    /// <summary>
    /// Generous bound for anything a guest or a teardown must do. Every wait on it ends with the event it awaits
    /// (milliseconds to a second or two beside a compile); the bound only decides when a missing event is reported.
    /// </summary>
    protected static readonly TimeSpan Long = TimeSpan.FromSeconds(60);

    /// <summary>Guest RAM for test VMs: enough for the boot structures and a protected-mode image.</summary>
    protected const ulong TestMemory = 4UL << 20;

    private const string Config = """
        akka.loglevel = WARNING
        akka.test.single-expect-default = 60s
        """;

    private int _nodes;

    /// <summary>A TestKit whose log goes to the test output.</summary>
    protected VmTestKit(ITestOutputHelper output) : base(Config, output: output)
    {
        Accelerator = TestAccelerator.Create();
    }

    /// <summary>The accelerator every VM of the test runs on.</summary>
    protected IAccelerator Accelerator { get; }

    /// <summary>Starts a VmRegistryActor (16 vCPUs and 4 GiB unless told otherwise).</summary>
    protected IActorRef StartNode(NodeCapacity? capacity = null) =>
        Sys.ActorOf(VmRegistryActor.Props(capacity ?? new NodeCapacity(16, 4UL << 30)), $"node-{++_nodes}");

    /// <summary>A spec for <paramref name="image"/>; <paramref name="devices"/> may add devices to the machine.</summary>
    protected VmActorSpec Spec(string name, GuestImage image, Action<MachineParts>? built = null, Func<MachineParts, IEnumerable<VmDevice>>? devices = null, ulong memory = TestMemory) =>
        MachineVm.Spec(name, Accelerator, new MachineSpec { Image = image, MemoryBytes = memory }, m =>
        {
            built?.Invoke(m);
            return devices?.Invoke(m) ?? [];
        });

    /// <summary>Creates a VM on <paramref name="node"/> and subscribes a probe to its events before it runs.</summary>
    protected TestVm CreateVm(IActorRef node, string name, GuestImage image, Func<MachineParts, IEnumerable<VmDevice>>? devices = null)
    {
        MachineParts? machine = null;
        node.Tell(new CreateVm(Spec(name, image, m => machine = m, devices)));
        var created = ExpectMsg<VmCreated>(Long);
        Assert.Equal(name, created.Name);
        var events = CreateTestProbe();
        created.Vm.Tell(new SubscribeVm(events.Ref));
        Assert.Equal(VmState.Created, ExpectMsg<VmSubscribed>().State);
        return new TestVm(name, created.Vm, events, machine!);
    }

    /// <summary>Starts the VM and expects it Running.</summary>
    protected void Start(TestVm vm)
    {
        vm.Vm.Tell(StartVm.Instance);
        Assert.Equal(new VmTransitioned(vm.Name, VmState.Running), ExpectMsg<VmTransitioned>(Long));
    }

    /// <summary>
    /// Waits until vCPU <paramref name="vcpu"/> of a <see cref="TestGuests.Spin"/> guest is past its prologue and
    /// counting (RBX > 0): "started" only means its thread may enter the guest.
    /// </summary>
    protected void AwaitSpinning(TestVm vm, int vcpu = 0) =>
        AwaitAssert(() => Assert.True(Ask<Actorvisor.Actors.Vcpu.VcpuRegisters>(vm, new GetRegisters(vcpu)).Registers.Rbx > 0, $"vcpu {vcpu} is counting"), Long, TimeSpan.FromMilliseconds(10));

    /// <summary>Sends <paramref name="request"/> to the VM and expects a reply of type <typeparamref name="T"/>.</summary>
    protected T Ask<T>(TestVm vm, object request)
    {
        vm.Vm.Tell(request);
        return ExpectMsg<T>(Long);
    }

    /// <summary>Skips the VM's events up to its end and returns the outcome.</summary>
    protected static VmOutcome ExpectEnded(TestVm vm) => vm.Events.FishForMessage<VmEnded>(_ => true, Long).Outcome;

    /// <summary>Every event the VM publishes until (and including) its end.</summary>
    protected static List<VmEvent> EventsUntilEnd(TestVm vm)
    {
        var events = new List<VmEvent>();
        while (true)
        {
            var e = vm.Events.ExpectMsg<VmEvent>(Long);
            events.Add(e);
            if (e is VmEnded) return events;
        }
    }

    /// <summary>The console text among <paramref name="events"/>.</summary>
    protected static string Console(IEnumerable<VmEvent> events) => string.Concat(events.OfType<VmConsoleOutput>().Select(c => c.Text));

    /// <inheritdoc />
    protected override void AfterAll()
    {
        base.AfterAll();
        Accelerator.Dispose();
    }
}
