using Actorvisor.Actors.Vfio;
using Actorvisor.Hardware.Tests.Vfio;
using Actorvisor.Hardware.Vfio;
using Actorvisor.Host.Scenarios.Language;
using Actorvisor.Host.Scenarios.Running;
using Xunit.Abstractions;

namespace Actorvisor.Host.Tests.Scenarios;

/// <summary>
/// attach-vfio, detach-vfio and expect-vfio on real VMs. The VMs' KVM-VFIO device is the runtime's, answering for
/// stand-in VFIO files created here (this machine has no VFIO devices) and with the real rules for every other file.
/// </summary>
public sealed class ScenarioVfioTests(ITestOutputHelper output) : IDisposable
{
    private const string Spinner = "{ name: port-io-loop, writes: 100000000 }";

    private readonly StandInVfioFiles _standIns = new();

    private Task<(ScenarioResult Result, RecordingNodeFactory Nodes, string Report)> Run(string yaml) =>
        ScenarioTestSupport.RunAsync(yaml, output, kvmVfioDevice: _ => new SoftKvmVfioDevice(_standIns));

    public void Dispose() => _standIns.Dispose();

    [Fact]
    public async Task Files_are_attached_listed_and_detached_and_the_teardown_closes_the_rest()
    {
        var born = _standIns.CreateGroup("7");
        var group = _standIns.CreateGroup("12");
        var nonCoherent = _standIns.CreateDevice("vfio0", coherent: false);
        var (result, _, report) = await Run($$"""
            vms: [ { name: v, guest: {{Spinner}}, vfio: [{{born}}] } ]
            steps:
              - create: v
              - expect-vfio: { vm: v, files: [{{born}}], non-coherent-dma: false }
              - start: v
              - attach-vfio: { vm: v, path: {{group}} }
              - attach-vfio: { vm: v, path: {{nonCoherent}} }
              - expect-vfio: { vm: v, files: [{{nonCoherent}}, {{group}}, {{born}}], non-coherent-dma: true }
              - attach-vfio: { vm: v, path: {{group}}, expect-error: { kind: already-attached, text: "is already attached to this VM" } }
              - detach-vfio: { vm: v, path: {{nonCoherent}} }
              - expect-vfio: { vm: v, files: [{{born}}, {{group}}], non-coherent-dma: false }
              - detach-vfio: { vm: v, path: {{nonCoherent}}, expect-error: { kind: not-attached, text: "(attached: {{born}}, {{group}})" } }
              - expect-state: { vm: v, state: running }
              - stop: v
            """);

        Assert.True(result.Passed, report);
        Assert.Equal($"attached: stand-in VFIO group {group}, coherent DMA; the VM's non-coherent DMA: no", result.Steps[3].Detail);
        Assert.Equal($"attached: stand-in VFIO device {nonCoherent}, non-coherent DMA; the VM's non-coherent DMA: yes", result.Steps[4].Detail);
        Assert.Equal("detached; the VM's non-coherent DMA: no", result.Steps[7].Detail);
        // Detached and released files are closed: nothing of this process refers to them any more.
        Assert.Equal([0, 0, 0], new[] { born, group, nonCoherent }.Select(StandInVfioFiles.OpenDescriptors));
    }

    [Fact]
    public async Task A_failing_vfio_step_says_what_it_expected_and_what_it_saw()
    {
        var group = _standIns.CreateGroup("3");
        async Task<StepResult> FailedStep(string steps)
        {
            var (result, _, _) = await Run($"vms: [ {{ name: v, guest: hello }} ]\nsteps:\n  - create: v\n{steps}");
            return result.Steps.Single(s => s.Status == StepStatus.Failed);
        }

        var list = await FailedStep($"  - attach-vfio: {{ vm: v, path: {group} }}\n  - expect-vfio: {{ vm: v, files: [], non-coherent-dma: false }}\n");
        Assert.Equal(("v has other VFIO files attached than expected", "no files; non-coherent DMA: no", $"files [{group}]; non-coherent DMA: no"),
            (list.Failure!.Message, list.Failure.Expected, list.Failure.Seen));
        Assert.Equal("v", list.Failure.Vm);

        var flag = await FailedStep($"  - attach-vfio: {{ vm: v, path: {group} }}\n  - expect-vfio: {{ vm: v, non-coherent-dma: true }}\n");
        Assert.Equal(("v's non-coherent DMA state differs", "non-coherent DMA: yes"), (flag.Failure!.Message, flag.Failure.Expected));

        var accepted = await FailedStep($"  - attach-vfio: {{ vm: v, path: {group}, expect-error: {{ kind: not-vfio-file }} }}\n");
        Assert.Equal(($"attach-vfio {group} was accepted, but the scenario expects it to be refused", "a refusal of kind not-vfio-file"),
            (accepted.Failure!.Message, accepted.Failure.Expected));

        var otherWay = await FailedStep("  - attach-vfio: { vm: v, path: /dev/null, expect-error: { kind: cannot-open } }\n");
        Assert.Equal(("attach-vfio /dev/null was refused another way", "a refusal of kind cannot-open"), (otherWay.Failure!.Message, otherWay.Failure.Expected));
        Assert.StartsWith("not-vfio-file: VM 'v': '/dev/null' is not a VFIO group or device file", otherWay.Failure.Seen);

        var unexpected = await FailedStep("  - detach-vfio: { vm: v, path: /dev/vfio/9 }\n");
        Assert.Equal("refused: VM 'v': '/dev/vfio/9' is not attached to this VM (attached: none)", unexpected.Failure!.Message);
    }

    [Fact]
    public void Every_vfio_error_of_the_runtime_has_a_kind_a_scenario_can_name()
    {
        var runtimeKinds = typeof(VfioError).GetNestedTypes().Where(t => t.IsSubclassOf(typeof(VfioError))).Select(t => VfioErrorKinds.Kebab(t.Name)).ToList();
        Assert.Equal(7, runtimeKinds.Count);
        Assert.All(runtimeKinds, k => Assert.Contains(k, VfioErrorKinds.ByName.Keys));
        // and the VM's own refusal once it stops accepting requests
        Assert.Equal("not-accepting", VfioErrorKinds.Kebab(nameof(Actorvisor.Actors.Vm.VmError.NotAccepting)));
        Assert.Equal(runtimeKinds.Count + 1, VfioErrorKinds.ByName.Count);
    }
}
