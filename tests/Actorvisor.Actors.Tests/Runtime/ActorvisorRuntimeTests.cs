using Actorvisor.Actors.Registry;
using Actorvisor.Actors.Runtime;
using Actorvisor.Actors.Tests.Support;
using Actorvisor.Actors.Vm;
using Actorvisor.Hardware.Accel;
using Actorvisor.Hardware.Guests;
using Actorvisor.Hardware.Machines;

namespace Actorvisor.Actors.Tests.Runtime;

/// <summary>The facade the CLI uses: a single-node system, VM sessions, console streaming, shutdown.</summary>
public sealed class ActorvisorRuntimeTests : IDisposable
{
    private readonly IAccelerator _accelerator = TestAccelerator.Create();

    private VmActorSpec Spec(string name, GuestImage image) =>
        MachineVm.Spec(name, _accelerator, new MachineSpec { Image = image, MemoryBytes = 4UL << 20 });

    [Fact]
    public async Task A_guest_runs_to_its_result_code_with_its_console_streamed()
    {
        await using var runtime = ActorvisorRuntime.Start(new NodeCapacity(4, 1UL << 30), "runtime-hello");
        var console = new System.Text.StringBuilder();
        var outcome = await runtime.RunVmAsync(Spec("hello", GuestLibrary.Hello()), e =>
        {
            if (e is VmConsoleOutput output) console.Append(output.Text);
        }, TimeSpan.FromSeconds(20));

        Assert.Equal(new VmOutcome.Exited(0), outcome);
        Assert.Equal(GuestLibrary.HelloText, console.ToString());
        Assert.Equal([("hello", VmState.Stopped)], (await runtime.ListVmsAsync()).Select(v => (v.Name, v.State)));
    }

    [Fact]
    public async Task Console_input_reaches_the_guest_through_its_uart()
    {
        await using var runtime = ActorvisorRuntime.Start(new NodeCapacity(4, 1UL << 30), "runtime-console-input");
        var vm = await runtime.CreateVmAsync(Spec("echo", TestGuests.EchoFirstReceivedByte()));
        await vm.StartAsync();
        Assert.Equal(2, await vm.SendConsoleInputAsync("*!"u8.ToArray()));
        var outcome = await vm.WaitAsync(TimeSpan.FromSeconds(20));
        Assert.Equal(new VmOutcome.Exited('*'), outcome);
    }

    [Fact]
    public async Task Refusals_surface_as_typed_errors()
    {
        await using var runtime = ActorvisorRuntime.Start(new NodeCapacity(1, 1UL << 30), "runtime-refusals");
        var vm = await runtime.CreateVmAsync(Spec("only", TestGuests.Spin()));
        var duplicate = await Assert.ThrowsAsync<ActorvisorException>(() => runtime.CreateVmAsync(Spec("only", TestGuests.Spin())));
        Assert.Equal(new VmRegistryError.DuplicateVmName("only"), duplicate.Error);
        var full = await Assert.ThrowsAsync<ActorvisorException>(() => runtime.CreateVmAsync(Spec("second", TestGuests.Spin())));
        Assert.IsType<VmRegistryError.InsufficientCapacity>(full.Error);
        var early = await Assert.ThrowsAsync<ActorvisorException>(vm.PauseAsync);
        Assert.Equal(new VmError.InvalidTransition(VmState.Created, "pause"), early.Error);
    }

    [Fact]
    public async Task Shutting_the_runtime_down_tears_running_vms_down_in_order()
    {
        var runtime = ActorvisorRuntime.Start(new NodeCapacity(4, 1UL << 30), "runtime-shutdown");
        var steps = new List<TeardownStep>();
        var vm = await runtime.CreateVmAsync(Spec("spinner", TestGuests.Spin(vcpus: 2)), e =>
        {
            if (e is VmTeardownStepped s) lock (steps) steps.Add(s.Step);
        });
        await vm.StartAsync();
        await vm.PauseAsync();
        await vm.ResumeAsync();

        await runtime.ShutdownAsync();
        Assert.Equal(new VmOutcome.StoppedOnRequest(), await vm.Ended.WaitAsync(TimeSpan.FromSeconds(20)));
        lock (steps) Assert.Equal(Enum.GetValues<TeardownStep>(), steps);
        await runtime.System.WhenTerminated.WaitAsync(TimeSpan.FromSeconds(20));
    }

    [Fact]
    public async Task Waiting_past_the_timeout_stops_the_vm()
    {
        await using var runtime = ActorvisorRuntime.Start(new NodeCapacity(4, 1UL << 30), "runtime-timeout");
        var outcome = await runtime.RunVmAsync(Spec("forever", TestGuests.Spin()), null, TimeSpan.FromMilliseconds(200));
        Assert.Equal(new VmOutcome.StoppedOnRequest(), outcome);
    }

    public void Dispose() => _accelerator.Dispose();
}
