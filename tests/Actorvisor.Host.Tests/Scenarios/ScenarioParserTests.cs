using Actorvisor.Hardware.Accel;
using Actorvisor.Host.Scenarios.Language;
using Actorvisor.Host.Scenarios.Nodes;
using Actorvisor.Host.Scenarios.Parsing;
using Actorvisor.Host.Scenarios.Steps;

namespace Actorvisor.Host.Tests.Scenarios;

/// <summary>The scenario language: what parses into what, and every kind of error with its line and column.</summary>
public class ScenarioParserTests
{
    private const string Vms = """
        vms:
          - name: web
            guest: hello
          - name: loop
            guest: { name: port-io-loop, writes: 5000 }
            accelerator: kvm
            devices:
              - { name: probe, kind: crashable-port, port: 0x80 }

        """;

    private const string Cluster = "nodes: [ { name: n1, kind: cluster }, { name: n2, kind: cluster } ]\n";

    [Fact]
    public void Cluster_nodes_placement_and_node_loss_parse_into_their_model()
    {
        var scenario = ScenarioParser.Parse("""
            nodes:
              - { name: n1, kind: cluster, vcpus: 4, memory: 256M }
              - { name: n2, kind: cluster }
            vms:
              - { name: placed, guest: spin }
              - { name: pinned, guest: hello, node: n2, restart: on-failure }
            steps:
              - create: placed
              - expect-placement: { vms: [placed, pinned], distinct: true }
              - expect-placement: { vm: pinned, node: n2 }
              - inject: { fault: kill-node, node: n2 }
              - expect-state: { vm: pinned, state: lost, timeout: 45s }
            """, "cluster.yaml");
        Assert.Equal(new[] { NodeKind.Cluster, NodeKind.Cluster }, scenario.Nodes.Select(n => n.Kind));
        Assert.Equal((4, 256UL << 20), (scenario.Nodes[0].Vcpus!.Value, scenario.Nodes[0].MemoryBytes!.Value));
        Assert.Equal(("n1", false), (scenario.Vms[0].Node, scenario.Vms[0].Pinned));
        Assert.Equal(("n2", true), (scenario.Vms[1].Node, scenario.Vms[1].Pinned));
        Assert.Equal((Actorvisor.Actors.Registry.VmRestartPolicy.Never, Actorvisor.Actors.Registry.VmRestartPolicy.OnFailure), (scenario.Vms[0].Restart, scenario.Vms[1].Restart));
        Assert.Equal(new ExpectPlacementStep(new SourceLocation("cluster.yaml", 9, 5), ["placed", "pinned"], null, true) with { },
            scenario.Steps[1] with { Timeout = null }, new PlacementComparer());
        var one = Assert.IsType<ExpectPlacementStep>(scenario.Steps[2]);
        Assert.Equal(("pinned", "n2", false), (Assert.Single(one.Vms), one.Node, one.Distinct));
        var kill = Assert.IsType<InjectFaultStep>(scenario.Steps[3]);
        Assert.Equal((FaultKind.KillNode, "n2", (string?)null), (kill.Fault, kill.Node, kill.Vm));
        Assert.Equal(VmStateName.Lost, Assert.IsType<ExpectStateStep>(scenario.Steps[4]).State);
    }

    private sealed class PlacementComparer : IEqualityComparer<Step>
    {
        public bool Equals(Step? x, Step? y) => x is ExpectPlacementStep a && y is ExpectPlacementStep b
            && a.Location == b.Location && a.Vms.SequenceEqual(b.Vms) && a.Node == b.Node && a.Distinct == b.Distinct;

        public int GetHashCode(Step obj) => 0;
    }

    private const string Lazy = """
        vms:
          - name: lazy
            guest: { name: memory-writer, pages: 16, address: 0x40000000 }
            lazy-memory: { size: 1M }

        """;

    [Fact]
    public void Disks_are_files_of_the_scenario_folder_and_one_that_leaves_it_is_refused()
    {
        var folder = AppContext.BaseDirectory;
        var scenario = ScenarioParser.Parse("vms: [ { name: a, guest: virtio-block-driver, disks: [ Actorvisor.Host.Tests.dll, \"Actorvisor.Host.Tests.dll,ro\" ] } ]\nsteps: [ { create: a } ]\n", "disk.yaml", folder);
        var disks = scenario.Vms[0].Disks;
        Assert.Equal(new[] { (Path.Combine(folder, "Actorvisor.Host.Tests.dll"), false), (Path.Combine(folder, "Actorvisor.Host.Tests.dll"), true) }, disks.Select(d => (d.Path, d.ReadOnly)));
        Assert.Equal(disks, scenario.Vms[0].ToMachineSpec().Disks);
        foreach (var (disk, message) in new[]
                 {
                     ("../Actorvisor.Host.Tests.dll", "leaves the scenario's folder"),
                     ("/etc/passwd", "must be relative to the scenario's folder"),
                     ("missing.img", "does not exist"),
                     ("\"Actorvisor.Host.Tests.dll,wo\"", "is not a disk option"),
                 })
        {
            var e = Assert.Throws<ScenarioParseException>(() => ScenarioParser.Parse($"vms: [ {{ name: a, guest: hello, disks: [ {disk} ] }} ]\nsteps: [ {{ create: a }} ]\n", "disk.yaml", folder));
            Assert.Contains("'disks' item", e.Message);
            Assert.Contains(message, e.Message);
        }
        var cluster = Assert.Throws<ScenarioParseException>(() => ScenarioParser.Parse(Cluster + "vms: [ { name: a, guest: hello, disks: [ Actorvisor.Host.Tests.dll ] } ]\nsteps: [ { create: a } ]\n", "disk.yaml", folder));
        Assert.Contains("'disks' are not supported by node kind 'cluster'", cluster.Message);
    }

    [Fact]
    public void A_cpu_limit_parses_and_one_outside_its_range_is_named()
    {
        var scenario = ScenarioParser.Parse("vms: [ { name: a, guest: spin, cpu-limit: 0.25 }, { name: b, guest: hello } ]\nsteps: [ { create: a } ]\n", "cpu.yaml", AppContext.BaseDirectory);
        Assert.Equal(0.25, scenario.Vms[0].CpuLimit);
        Assert.Null(scenario.Vms[1].CpuLimit);
        var e = Assert.Throws<ScenarioParseException>(() => ScenarioParser.Parse("vms: [ { name: a, guest: spin, cpu-limit: 0 } ]\nsteps: [ { create: a } ]\n", "cpu.yaml", AppContext.BaseDirectory));
        Assert.Contains("cpu-limit", e.Message);
        Assert.Contains("must be in 0.01..64, got 0", e.Message);
    }

    [Fact]
    public void Lazy_memory_and_its_store_faults_and_counters_parse_into_their_model()
    {
        var scenario = ScenarioParser.Parse("""
            vms:
              - name: lazy
                guest: { name: memory-writer, pages: 16, address: 0x40000000 }
                lazy-memory: { size: 1M, latency: 5ms }
              - name: image
                guest: hello
                lazy-memory:
                  size: 64K
                  address: 0x80000000
                  store: file
                  file: Actorvisor.Host.Tests.dll
            steps:
              - inject: { fault: slow-store, vm: lazy, delay: 20ms }
              - inject: { fault: failing-store, vm: image }
              - expect-async-pf: { vm: lazy, faults: ">= 1", failed: 0, running-fetches: "<3", live-workers: "= 2" }
            """, "lazy.yaml", AppContext.BaseDirectory);

        var lazy = scenario.Vms[0].LazyMemory!;
        Assert.Equal((1UL << 20, LazyMemoryDeclaration.DefaultAddress, LazyStoreKind.Zero, TimeSpan.FromMilliseconds(5)), (lazy.Size, lazy.Address, lazy.Store, lazy.Latency));
        Assert.Equal(new SourceLocation("lazy.yaml", 4, 18), lazy.Location);
        var image = scenario.Vms[1].LazyMemory!;
        Assert.Equal((0x10000UL, 0x8000_0000UL, LazyStoreKind.File, TimeSpan.Zero), (image.Size, image.Address, image.Store, image.Latency));
        Assert.Equal(Path.Combine(AppContext.BaseDirectory, "Actorvisor.Host.Tests.dll"), image.FullPath);
        Assert.Equal(0x4000_0000, scenario.Vms[0].Guest.Parameters["address"]);
        Assert.Equal(0x4000_0000UL, scenario.Vms[0].ToMachineSpec().LazyMemory!.GuestPhysicalAddress);

        var slow = Assert.IsType<InjectFaultStep>(scenario.Steps[0]);
        Assert.Equal((FaultKind.SlowStore, "lazy", TimeSpan.FromMilliseconds(20)), (slow.Fault, slow.Vm, slow.Delay!.Value));
        Assert.Equal(FaultKind.FailingStore, Assert.IsType<InjectFaultStep>(scenario.Steps[1]).Fault);
        var counters = Assert.IsType<ExpectAsyncPfStep>(scenario.Steps[2]);
        Assert.Equal(
            new[] { new CounterCondition("faults", ">=", 1), new CounterCondition("failed", "==", 0), new CounterCondition("live-workers", "==", 2), new CounterCondition("running-fetches", "<", 3) },
            counters.Conditions);
        Assert.True(counters.Conditions[0].Holds(1) && !counters.Conditions[0].Holds(0));
        Assert.True(counters.Conditions[3].Holds(2) && !counters.Conditions[3].Holds(3));
    }

    [Fact]
    public void Every_step_kind_parses_into_its_model_with_the_location_of_its_keyword()
    {
        var scenario = ScenarioParser.Parse(Vms + """
            steps:
              - create: web
              - start: { vm: web, timeout: 2s }
              - wait-for-serial: { vm: web, text: "Hello" }
              - wait-for-serial: { vm: web, regex: "H.llo" }
              - expect-state: { vm: web, state: stopped }
              - expect-result: { vm: web, code: 0 }
              - expect-outcome: { vm: loop, outcome: failed, reason: crashed }
              - expect-memory: { vm: web, address: 0x100000, length: 4K, sum32: 0xdeadbeef }
              - inject: { fault: crash-device, vm: loop, device: probe }
              - repeat:
                  times: 3
                  steps:
                    - pause: loop
                    - resume: loop
              - parallel:
                  - stop: web
                  - destroy: { vm: loop, expect-error: "no VM" }
              - measure: { name: boot, at-most: 500ms, steps: [ { create: web } ] }
              - expect-rejected: { file: Actorvisor.Host.Tests.dll, error: "unknown", line: 3, column: 5 }
            """, "all.yaml", AppContext.BaseDirectory);

        Assert.Equal("all", scenario.Name);
        Assert.Equal(NodeDeclaration.DefaultName, Assert.Single(scenario.Nodes).Name);
        Assert.Equal(new[] { "web", "loop" }, scenario.Vms.Select(v => v.Name));
        Assert.Equal(AcceleratorPreference.Software, scenario.Vms[0].Accelerator);
        Assert.Equal(AcceleratorPreference.Kvm, scenario.Vms[1].Accelerator);
        Assert.Equal(5000, scenario.Vms[1].Guest.Parameters["writes"]);
        Assert.Equal(new DeviceDeclaration("probe", DeviceKind.CrashablePort, 0x80, new SourceLocation("all.yaml", 8, 9)), scenario.Vms[1].Devices.Single());

        var s = scenario.Steps;
        Assert.Equal(13, s.Count);
        Assert.Equal(new LifecycleStep(new SourceLocation("all.yaml", 10, 5), LifecycleAction.Create, "web", null), s[0]);
        Assert.Equal(TimeSpan.FromSeconds(2), Assert.IsType<LifecycleStep>(s[1]).Timeout);
        Assert.Equal("Hello", Assert.IsType<WaitForSerialStep>(s[2]).Text);
        Assert.Matches(Assert.IsType<WaitForSerialStep>(s[3]).Pattern!, "Hallo");
        Assert.Equal(VmStateName.Stopped, Assert.IsType<ExpectStateStep>(s[4]).State);
        Assert.Equal(0, Assert.IsType<ExpectResultStep>(s[5]).Code);
        var outcome = Assert.IsType<ExpectOutcomeStep>(s[6]);
        Assert.Equal((OutcomeKind.Failed, "crashed"), (outcome.Outcome, outcome.ReasonContains));
        var memory = Assert.IsType<ExpectMemoryStep>(s[7]);
        Assert.Equal((0x100000UL, 4096UL, ChecksumAlgorithm.Sum32, "deadbeef"), (memory.Address, memory.Length, memory.Algorithm, memory.Expected));
        var inject = Assert.IsType<InjectFaultStep>(s[8]);
        Assert.Equal((FaultKind.CrashDevice, "loop", "probe"), (inject.Fault, inject.Vm, inject.Device));
        var repeat = Assert.IsType<RepeatStep>(s[9]);
        Assert.Equal(3, repeat.Times);
        Assert.Equal(new[] { LifecycleAction.Pause, LifecycleAction.Resume }, repeat.Steps.Cast<LifecycleStep>().Select(l => l.Action));
        Assert.Equal(new SourceLocation("all.yaml", 22, 11), repeat.Steps[0].Location);
        var parallel = Assert.IsType<ParallelStep>(s[10]);
        Assert.Equal("no VM", Assert.IsType<LifecycleStep>(parallel.Steps[1]).ExpectError);
        var measure = Assert.IsType<MeasureStep>(s[11]);
        Assert.Equal(("boot", TimeSpan.FromMilliseconds(500)), (measure.Name, measure.AtMost));
        var rejected = Assert.IsType<ExpectRejectedStep>(s[12]);
        Assert.Equal((3, 5), (rejected.Line, rejected.Column));
    }

    [Fact]
    public void Console_input_and_a_reset_outcome_parse_into_their_model()
    {
        var scenario = ScenarioParser.Parse(Vms + """
            steps:
              - console-input: { vm: web, text: "ls\r\n" }
              - expect-outcome: { vm: web, outcome: reset }
            """, "console.yaml");
        var input = Assert.IsType<ConsoleInputStep>(scenario.Steps[0]);
        Assert.Equal(("web", "ls\r\n"), (input.Vm, input.Text));
        Assert.Equal(OutcomeKind.Reset, Assert.IsType<ExpectOutcomeStep>(scenario.Steps[1]).Outcome);
    }

    [Theory]
    [InlineData("{ vm: web }", "missing 'text'")]
    [InlineData("{ vm: web, text: \"\" }", "must not be empty")]
    [InlineData("{ text: \"x\" }", "missing 'vm'")]
    public void Bad_console_input_steps_are_rejected_naming_the_field(string fields, string problem)
    {
        var e = Assert.Throws<ScenarioParseException>(() => ScenarioParser.Parse(Vms + "steps:\n  - console-input: " + fields + "\n", "bad.yaml"));
        Assert.Contains(problem, e.Message);
    }

    private const string SnapshotVms = """
        vms:
          - { name: original, guest: { name: counter, count: 100 } }
          - { name: copy, guest: { name: counter, count: 100 } }

        """;

    [Fact]
    public void Snapshot_and_restore_parse_into_their_model()
    {
        var scenario = ScenarioParser.Parse(SnapshotVms + """
            steps:
              - snapshot: { vm: original, to: paused.1 }
              - snapshot: { vm: original, to: again, resume: true }
              - restore: { vm: copy, from: paused.1 }
              - restore: { vm: copy, from: again, mode: eager }
              - expect-result: { vm: copy, code: 0, whole-console: true }
            """, "snap.yaml");
        var s = scenario.Steps;
        var first = Assert.IsType<SnapshotStep>(s[0]);
        Assert.Equal(("original", "paused.1", false), (first.Vm, first.To, first.Resume));
        Assert.True(Assert.IsType<SnapshotStep>(s[1]).Resume);
        var lazy = Assert.IsType<RestoreStep>(s[2]);
        Assert.Equal(("copy", "paused.1", Actorvisor.Hardware.Snapshots.RestoreMode.Lazy), (lazy.Vm, lazy.From, lazy.Mode));
        Assert.Equal(Actorvisor.Hardware.Snapshots.RestoreMode.Eager, Assert.IsType<RestoreStep>(s[3]).Mode);
        Assert.True(Assert.IsType<ExpectResultStep>(s[4]).WholeConsole);
    }

    [Theory]
    [InlineData("- snapshot: { vm: original }", "snapshot: missing 'to'")]
    [InlineData("- snapshot: { to: s1 }", "snapshot: missing 'vm'")]
    [InlineData("- snapshot: { vm: original, to: ../etc }", "snapshot: 'to' '../etc' contains '/'")]
    [InlineData("- snapshot: { vm: original, to: .hidden }", "snapshot: 'to' '.hidden' starts with '.'")]
    [InlineData("- snapshot: { vm: original, to: s1, resume: maybe }", "snapshot: 'resume' must be true or false")]
    [InlineData("- snapshot: { vm: original, to: s1, keep: true }", "keep")]
    [InlineData("- snapshot: { vm: nobody, to: s1 }", "snapshot: unknown vm 'nobody'")]
    [InlineData("- snapshot: { vm: original, to: s1 }\n  - snapshot: { vm: copy, to: s1 }", "'s1' is already taken by the snapshot step at")]
    [InlineData("- restore: { vm: copy }", "restore: missing 'from'")]
    [InlineData("- restore: { from: s1 }", "restore: missing 'vm'")]
    [InlineData("- snapshot: { vm: original, to: s1 }\n  - restore: { vm: copy, from: s1, mode: quick }", "restore: 'mode' must be one of eager, lazy, mmap, got 'quick'")]
    [InlineData("- snapshot: { vm: original, to: s1 }\n  - restore: { vm: copy, from: s2 }", "restore: 'from' names snapshot 's2', which no snapshot step takes")]
    [InlineData("- restore: { vm: copy, from: s1 }", "snapshots taken: none")]
    [InlineData("- snapshot: { vm: original, to: s1 }\n  - restore: { vm: original, from: s1 }", "restore: 'vm' is 'original', the snapshotted VM itself")]
    [InlineData("- restore: { vm: copy, from: \"a b\" }", "restore: 'from' 'a b' contains ' '")]
    [InlineData("- expect-result: { vm: copy, code: 0, whole-console: yes }", "expect-result: 'whole-console' must be true or false")]
    public void Bad_snapshot_and_restore_steps_are_rejected_naming_the_field(string steps, string problem)
    {
        var e = Assert.Throws<ScenarioParseException>(() => ScenarioParser.Parse(SnapshotVms + "steps:\n  " + steps + "\n", "bad.yaml"));
        Assert.Contains(problem, e.Message);
    }

    [Fact]
    public void Whole_console_needs_a_guest_with_a_known_console()
    {
        var e = Assert.Throws<ScenarioParseException>(() => ScenarioParser.Parse(Vms.Replace("guest: hello", "guest: halt") + """
            steps:
              - expect-result: { vm: web, code: 0, whole-console: true }
            """, "bad.yaml"));
        Assert.Contains("'whole-console' needs a guest that prints a known console", e.Message);
    }

    [Fact]
    public void A_reset_vm_is_reported_as_reset_not_as_a_failure()
    {
        var end = InProcessVm.Map(new Actorvisor.Actors.Vm.VmOutcome.Reset());
        Assert.Equal((OutcomeKind.Reset, "reset"), (end.Kind, end.ToString()));
        Assert.Null(end.Reason);
    }

    [Fact]
    public void Vfio_steps_and_a_vms_vfio_files_parse_into_their_model()
    {
        var scenario = ScenarioParser.Parse("""
            vms:
              - { name: web, guest: hello, vfio: [/dev/vfio/12, /dev/vfio/devices/vfio0] }
            steps:
              - attach-vfio: { vm: web, path: /dev/vfio/13 }
              - attach-vfio: { vm: web, path: /dev/null, expect-error: "not a VFIO", timeout: 1s }
              - detach-vfio:
                  vm: web
                  path: /dev/vfio/99
                  expect-error: { kind: not-attached, text: "(attached: none)" }
              - detach-vfio: { vm: web, path: /dev/vfio/98, expect-error: { kind: not-attached } }
              - expect-vfio: { vm: web, files: [/dev/vfio/12, /dev/vfio/13], non-coherent-dma: true }
              - expect-vfio: { vm: web, files: [] }
              - expect-vfio: { vm: web, non-coherent-dma: false }
            """, "vfio.yaml");

        Assert.Equal(["/dev/vfio/12", "/dev/vfio/devices/vfio0"], scenario.Vms.Single().VfioFiles);
        var s = scenario.Steps;
        Assert.Equal(new VfioStep(new SourceLocation("vfio.yaml", 4, 5), VfioAction.Attach, "web", "/dev/vfio/13", null), s[0]);
        var refused = Assert.IsType<VfioStep>(s[1]);
        Assert.Equal((new ExpectedRefusal(null, "not a VFIO"), TimeSpan.FromSeconds(1)), (refused.ExpectError, refused.Timeout));
        var detach = Assert.IsType<VfioStep>(s[2]);
        Assert.Equal((VfioAction.Detach, "detach-vfio", "/dev/vfio/99"), (detach.Action, detach.Keyword, detach.Path));
        Assert.Equal(new ExpectedRefusal(VfioErrorKind.NotAttached, "(attached: none)"), detach.ExpectError);
        Assert.Equal(new ExpectedRefusal(VfioErrorKind.NotAttached, null), Assert.IsType<VfioStep>(s[3]).ExpectError);
        var both = Assert.IsType<ExpectVfioStep>(s[4]);
        Assert.Equal(["/dev/vfio/12", "/dev/vfio/13"], both.Files!);
        Assert.True(both.NonCoherentDma);
        Assert.Equal("expect VFIO of web: files [/dev/vfio/12, /dev/vfio/13]; non-coherent DMA: yes", both.Describe());
        Assert.Equal(("no files", (bool?)null), (Assert.IsType<ExpectVfioStep>(s[5]).Expected, Assert.IsType<ExpectVfioStep>(s[5]).NonCoherentDma));
        Assert.Equal(((IReadOnlyList<string>?)null, (bool?)false), (Assert.IsType<ExpectVfioStep>(s[6]).Files, Assert.IsType<ExpectVfioStep>(s[6]).NonCoherentDma));
    }

    [Fact]
    public void Expected_refusals_match_by_kind_and_by_text_ignoring_case()
    {
        var both = new ExpectedRefusal(VfioErrorKind.NotVfioFile, "/DEV/NULL");
        Assert.True(both.Matches("not-vfio-file", "'/dev/null' is not a VFIO group or device file"));
        Assert.False(both.Matches("cannot-open", "cannot open VFIO file '/dev/null'"));
        Assert.False(both.Matches("not-vfio-file", "'/dev/zero' is not a VFIO group or device file"));
        Assert.True(new ExpectedRefusal(null, "zero").Matches(null, "'/dev/zero' ..."));
        Assert.Equal("a refusal of kind not-vfio-file containing \"/DEV/NULL\"", both.ToString());
    }

    [Fact]
    public void Defaults_fill_in_name_timeouts_guest_parameters_and_memory()
    {
        var scenario = ScenarioParser.Parse("vms: [ { name: w, guest: memory-writer } ]\nsteps: [ { create: w } ]\n", "dir/defaults.yaml");
        Assert.Equal("defaults", scenario.Name);
        Assert.Equal(Scenario.DefaultTimeout, scenario.Timeout);
        Assert.Equal(Scenario.DefaultStepTimeout, scenario.StepTimeout);
        var vm = scenario.Vms.Single();
        Assert.Equal(16, vm.Guest.Parameters["pages"]);
        var spec = vm.ToMachineSpec();
        Assert.Equal(32UL << 20, spec.MemoryBytes);
        Assert.Equal(1, spec.EffectiveVcpuCount);
    }

    public static TheoryData<string, string, int, int, string> Errors => new()
    {
        // YAML syntax
        { "syntax", "steps:\n  - start: web\n   - stop: web\n", 3, 4, "YAML syntax error" },
        { "unclosed flow", "steps: [ { start: web }\n", 2, 1, "did not find expected ',' or ']'" },
        { "flow ends inside a scalar", "steps: [1\nb: 2\n", 1, 8, "the file ends inside an unclosed" },
        { "duplicate key", "steps: []\nsteps: []\n", 2, 1, "'steps' appears twice" },
        { "alias after a flow mapping (found by fuzzing)", "vms:\n  - guest: { name: hello }*steps:\n", 3, 1, "YAML syntax error: the structure breaks off" },
        { "empty file", "", 1, 1, "empty" },
        // structure
        { "root not a mapping", "- start: web\n", 1, 1, "scenario: expected a mapping" },
        { "unknown root key", "stepz: []\n", 1, 1, "unknown key 'stepz' (did you mean 'steps'?)" },
        { "missing steps", "name: x\n", 1, 1, "scenario: missing 'steps'" },
        { "unknown step", Vms + "steps:\n  - strat: web\n", 10, 5, "unknown step 'strat' (did you mean 'start'?)" },
        { "step with two keys", Vms + "steps:\n  - start: web\n    stop: web\n", 10, 5, "a step is one keyword" },
        { "wrong type", Vms + "steps:\n  - repeat: { times: three, steps: [ { start: web } ] }\n", 10, 22, "'times' must be an integer, got 'three'" },
        { "out of range", Vms + "steps:\n  - expect-result: { vm: web, code: 300 }\n", 10, 37, "'code' must be in 0..255" },
        { "missing field", Vms + "steps:\n  - wait-for-serial: { text: Hello }\n", 10, 22, "wait-for-serial: missing 'vm'" },
        { "text and regex", Vms + "steps:\n  - wait-for-serial: { vm: web, text: a, regex: b }\n", 10, 49, "cannot be given together" },
        { "bad regex", Vms + "steps:\n  - wait-for-serial: { vm: web, regex: \"(\" }\n", 10, 40, "not a valid regular expression" },
        { "bad duration", Vms + "steps:\n  - start: { vm: web, timeout: 5 }\n", 10, 32, "'timeout' must be a duration" },
        { "bad state", Vms + "steps:\n  - expect-state: { vm: web, state: runing }\n", 10, 37, "(did you mean 'running'?)" },
        { "reason without failed", Vms + "steps:\n  - expect-outcome: { vm: web, outcome: exited, reason: x }\n", 10, 57, "only applies to outcome 'failed'" },
        { "two checksums", Vms + "steps:\n  - expect-memory: { vm: web, address: 0, length: 4, sum32: 1, sha256: 2 }\n", 10, 20, "exactly one checksum" },
        { "bad checksum", Vms + "steps:\n  - expect-memory: { vm: web, address: 0, length: 4, sum32: xyz }\n", 10, 61, "at most 8 hex digits" },
        { "empty repeat", Vms + "steps:\n  - repeat: { times: 2, steps: [] }\n", 10, 32, "the list of steps is empty" },
        { "single parallel branch", Vms + "steps:\n  - parallel: [ { start: web } ]\n", 10, 15, "at least two steps" },
        { "fault field missing", Vms + "steps:\n  - inject: { fault: crash-device, vm: loop }\n", 10, 13, "missing 'device'" },
        { "fault field not applicable", Vms + "steps:\n  - inject: { fault: triple-fault, vm: loop, device: probe }\n", 10, 54, "does not apply to fault triple-fault" },
        { "unknown guest", "vms: [ { name: a, guest: helo } ]\nsteps: [ { create: a } ]\n", 1, 26, "unknown guest 'helo' (did you mean 'hello'?)" },
        { "guest parameter", "vms: [ { name: a, guest: { name: memory-writer, pagez: 3 } } ]\nsteps: [ { create: a } ]\n", 1, 49, "unknown key 'pagez' (did you mean 'pages'?)" },
        { "guest parameter range", "vms: [ { name: a, guest: { name: memory-writer, pages: 0 } } ]\nsteps: [ { create: a } ]\n", 1, 56, "'pages' must be in 1.." },
        { "guest parameters the guest refuses together (found by fuzzing)", "vms: [ { name: a, guest: { name: memory-writer, address: 0x40000040 } } ]\nsteps: [ { create: a } ]\n", 1, 26, "must start 4 KiB aligned" },
        { "vm without guest", "vms: [ { name: a } ]\nsteps: [ { create: a } ]\n", 1, 8, "vm 'a': missing 'guest'" },
        { "bad size", "vms: [ { name: a, guest: hello, memory: lots } ]\nsteps: [ { create: a } ]\n", 1, 41, "'memory' must be a size" },
        // meaning
        { "unknown vm", Vms + "steps:\n  - start: wbe\n", 10, 5, "unknown vm 'wbe' (did you mean 'web'?)" },
        { "duplicate vm", "vms: [ { name: a, guest: hello }, { name: a, guest: halt } ]\nsteps: [ { create: a } ]\n", 1, 35, "vm 'a' is declared twice" },
        { "bad vm name", "vms: [ { name: 'a b', guest: hello } ]\nsteps: [ { create: 'a b' } ]\n", 1, 8, "contains ' '" },
        { "memory too small for guest", "vms: [ { name: a, guest: { name: memory-writer, pages: 1000 }, memory: 1M } ]\nsteps: [ { create: a } ]\n", 1, 8, "needs at least" },
        { "too few vcpus", "vms: [ { name: a, guest: two-vcpu-writer, vcpus: 1 } ]\nsteps: [ { create: a } ]\n", 1, 8, "needs 2 vCPUs" },
        { "unknown node", "vms: [ { name: a, guest: hello, node: far } ]\nsteps: [ { create: a } ]\n", 1, 8, "unknown node 'far'" },
        { "cluster mixed with in-process", "nodes: [ { name: n1, kind: cluster }, { name: local } ]\nvms: [ { name: a, guest: hello } ]\nsteps: [ { create: a } ]\n", 1, 39, "nodes of kind cluster and in-process cannot be mixed" },
        { "cluster guest parameters", Cluster + "vms: [ { name: a, guest: { name: port-io-loop, writes: 5 } } ]\nsteps: [ { create: a } ]\n", 2, 26, "the remote API boots library guests with their default parameters; remove 'writes'" },
        { "restart on in-process", "vms: [ { name: a, guest: hello, restart: always } ]\nsteps: [ { create: a } ]\n", 1, 8, "'restart' is supported by node kind 'cluster' only" },
        { "unknown restart policy", Cluster + "vms: [ { name: a, guest: hello, restart: sometimes } ]\nsteps: [ { create: a } ]\n", 2, 42, "'restart' must be one of" },
        { "cluster lazy memory", Cluster + "vms: [ { name: a, guest: hello, lazy-memory: { size: 1M } } ]\nsteps: [ { create: a } ]\n", 2, 46, "'lazy-memory' is not supported by node kind 'cluster'" },
        { "cluster device", Cluster + "vms: [ { name: a, guest: hello, devices: [ { name: d, kind: crashable-port, port: 0x80 } ] } ]\nsteps: [ { create: a } ]\n", 2, 44, "'devices' are not supported by node kind 'cluster'" },
        { "cluster memory check", Cluster + "vms: [ { name: a, guest: hello } ]\nsteps: [ { expect-memory: { vm: a, address: 0, length: 4, sum32: 0 } } ]\n", 3, 12, "expect-memory: not supported for vm 'a' on node 'n1' (kind cluster)" },
        { "cluster crash device", Cluster + "vms: [ { name: a, guest: hello } ]\nsteps: [ { inject: { fault: triple-fault, vm: a } } ]\n", 3, 12, "inject triple-fault: not supported by node kind 'cluster'" },
        { "kill unknown node", Cluster + "vms: [ { name: a, guest: hello } ]\nsteps: [ { inject: { fault: kill-node, node: n9 } } ]\n", 3, 12, "inject kill-node: unknown node 'n9'" },
        { "placement vm and vms", Vms + "steps:\n  - expect-placement: { vm: web, vms: [web, loop], node: local }\n", 10, 23, "give 'vm' (one VM) or 'vms' (a list), not both" },
        { "placement nothing to check", Vms + "steps:\n  - expect-placement: { vm: web }\n", 10, 23, "give 'node' (where the VMs must be) and/or 'distinct: true'" },
        { "placement distinct of one", Vms + "steps:\n  - expect-placement: { vms: [web], distinct: true }\n", 10, 30, "'vms' needs at least two VMs for 'distinct'" },
        { "placement bad distinct", Vms + "steps:\n  - expect-placement: { vms: [web, loop], distinct: yes }\n", 10, 53, "'distinct' must be true or false" },
        { "placement unknown vm", Vms + "steps:\n  - expect-placement: { vms: [web, lop], distinct: true }\n", 10, 5, "expect-placement: unknown vm 'lop' (did you mean 'loop'?)" },
        { "placement unknown node", Vms + "steps:\n  - expect-placement: { vm: web, node: locl }\n", 10, 5, "expect-placement: unknown node 'locl' (did you mean 'local'?)" },
        { "port of the uart", "vms: [ { name: a, guest: hello, devices: [ { name: d, kind: crashable-port, port: 0x3f9 } ] } ]\nsteps: [ { create: a } ]\n", 1, 44, "belongs to the COM1 UART" },
        { "device twice", "vms: [ { name: a, guest: hello, devices: [ { name: d, kind: crashable-port, port: 0x80 }, { name: d, kind: crashable-port, port: 0x81 } ] } ]\nsteps: [ { create: a } ]\n", 1, 91, "device 'd' is declared twice" },
        { "port claimed twice", "vms: [ { name: a, guest: hello, devices: [ { name: d, kind: crashable-port, port: 0x80 }, { name: e, kind: crashable-port, port: 128 } ] } ]\nsteps: [ { create: a } ]\n", 1, 91, "port 0x80 is already claimed by device 'd'" },
        { "undeclared device", Vms + "steps:\n  - inject: { fault: crash-device, vm: web, device: probe }\n", 10, 5, "vm 'web' has no device 'probe'" },
        { "slow store without lazy memory", Vms + "steps:\n  - inject: { fault: slow-store, vm: web, delay: 10ms }\n", 10, 5, "inject slow-store: vm 'web' has no lazy memory" },
        { "failing store without lazy memory", Vms + "steps:\n  - inject: { fault: failing-store, vm: web }\n", 10, 5, "inject failing-store: vm 'web' has no lazy memory" },
        { "slow store without delay", Lazy + "steps:\n  - inject: { fault: slow-store, vm: lazy }\n", 6, 13, "inject slow-store: missing 'delay'" },
        { "slow store bad delay", Lazy + "steps:\n  - inject: { fault: slow-store, vm: lazy, delay: slow }\n", 6, 51, "'delay' must be a duration" },
        { "failing store with delay", Lazy + "steps:\n  - inject: { fault: failing-store, vm: lazy, delay: 1s }\n", 6, 54, "'delay' does not apply to fault failing-store" },
        { "kill in-process node", Vms + "steps:\n  - inject: { fault: kill-node, node: local }\n", 10, 5, "not supported by node kind 'in-process'" },
        { "lazy size missing", "vms: [ { name: a, guest: hello, lazy-memory: { latency: 1ms } } ]\nsteps: [ { create: a } ]\n", 1, 46, "lazy-memory: missing 'size'" },
        { "lazy size unaligned", "vms: [ { name: a, guest: hello, lazy-memory: { size: 5000 } } ]\nsteps: [ { create: a } ]\n", 1, 54, "'size' must be a positive multiple of 4K" },
        { "lazy size bad", "vms: [ { name: a, guest: hello, lazy-memory: { size: big } } ]\nsteps: [ { create: a } ]\n", 1, 54, "'size' must be a size" },
        { "lazy address unaligned", "vms: [ { name: a, guest: hello, lazy-memory: { size: 1M, address: 0x40000010 } } ]\nsteps: [ { create: a } ]\n", 1, 67, "'address' must be 4K aligned" },
        { "lazy address in ram", "vms: [ { name: a, guest: hello, lazy-memory: { size: 1M, address: 0x100000 } } ]\nsteps: [ { create: a } ]\n", 1, 46, "'lazy-memory: 'address'': 0x100000 overlaps ordinary RAM" },
        { "lazy store unknown", "vms: [ { name: a, guest: hello, lazy-memory: { size: 1M, store: zeros } } ]\nsteps: [ { create: a } ]\n", 1, 65, "'store' must be one of zero, file, got 'zeros' (did you mean 'zero'?)" },
        { "lazy file missing", "vms: [ { name: a, guest: hello, lazy-memory: { size: 1M, store: file } } ]\nsteps: [ { create: a } ]\n", 1, 46, "store 'file' needs 'file'" },
        { "lazy file absent", "vms: [ { name: a, guest: hello, lazy-memory: { size: 1M, store: file, file: nowhere.raw } } ]\nsteps: [ { create: a } ]\n", 1, 77, "'file' 'nowhere.raw' does not exist" },
        { "lazy file for zero", "vms: [ { name: a, guest: hello, lazy-memory: { size: 1M, file: x.raw } } ]\nsteps: [ { create: a } ]\n", 1, 64, "'file' only applies to store 'file'" },
        { "lazy bad latency", "vms: [ { name: a, guest: hello, lazy-memory: { size: 1M, latency: 5 } } ]\nsteps: [ { create: a } ]\n", 1, 67, "'latency' must be a duration" },
        { "lazy unknown key", "vms: [ { name: a, guest: hello, lazy-memory: { size: 1M, latncy: 5ms } } ]\nsteps: [ { create: a } ]\n", 1, 58, "unknown key 'latncy' (did you mean 'latency'?)" },
        { "writer outside memory", "vms: [ { name: a, guest: { name: memory-writer, pages: 512, address: 0x40000000 }, lazy-memory: { size: 1M } } ]\nsteps: [ { create: a } ]\n", 1, 26, "writes [0x40000000, 0x40200000), which is not inside its RAM [0, 0x2000000) or its lazy memory [0x40000000, 0x40100000)" },
        { "async-pf without lazy memory", Vms + "steps:\n  - expect-async-pf: { vm: web, faults: 1 }\n", 10, 5, "expect-async-pf: vm 'web' has no lazy memory" },
        { "async-pf no counter", Lazy + "steps:\n  - expect-async-pf: { vm: lazy }\n", 6, 22, "expect-async-pf: name at least one counter" },
        { "async-pf bad value", Lazy + "steps:\n  - expect-async-pf: { vm: lazy, faults: many }\n", 6, 42, "'faults' must be a count, optionally after >=" },
        { "async-pf bad comparison", Lazy + "steps:\n  - expect-async-pf: { vm: lazy, failed: \"=> 1\" }\n", 6, 42, "'failed' must be a count" },
        { "async-pf unknown counter", Lazy + "steps:\n  - expect-async-pf: { vm: lazy, fautls: 1 }\n", 6, 34, "unknown key 'fautls' (did you mean 'faults'?)" },
        { "triple fault in real mode", Vms + "steps:\n  - inject: { fault: triple-fault, vm: web }\n", 10, 5, "protected or long mode" },
        { "memory outside ram", Vms + "steps:\n  - expect-memory: { vm: web, address: 0x1ffffff, length: 8, sha256: 0 }\n", 10, 5, "is not inside vm 'web''s RAM" },
        { "sum32 length", Vms + "steps:\n  - expect-memory: { vm: web, address: 0, length: 6, sum32: 0 }\n", 10, 5, "multiple of 4" },
        { "missing rejected file", Vms + "steps:\n  - expect-rejected: { file: nowhere.yaml, error: x }\n", 10, 5, "file 'nowhere.yaml' does not exist" },
        { "vfio path missing", Vms + "steps:\n  - attach-vfio: { vm: web }\n", 10, 18, "attach-vfio: missing 'path'" },
        { "vfio path relative", Vms + "steps:\n  - attach-vfio: { vm: web, path: dev/vfio/1 }\n", 10, 35, "attach-vfio: 'path' must be an absolute path (VFIO files are e.g. /dev/vfio/12 or /dev/vfio/devices/vfio0), got 'dev/vfio/1'" },
        { "vfio error kind", Vms + "steps:\n  - detach-vfio: { vm: web, path: /dev/vfio/1, expect-error: { kind: not-atached } }\n", 10, 70, "'kind' must be one of invalid-path, cannot-open, not-vfio-file, already-attached, not-attached, refused, device-unavailable, not-accepting, got 'not-atached' (did you mean 'not-attached'?)" },
        { "vfio error empty", Vms + "steps:\n  - detach-vfio: { vm: web, path: /dev/vfio/1, expect-error: {} }\n", 10, 62, "detach-vfio expect-error: give 'kind'" },
        { "vfio error list", Vms + "steps:\n  - detach-vfio: { vm: web, path: /dev/vfio/1, expect-error: [x] }\n", 10, 62, "must be text (part of the refusal's message) or a mapping with 'kind' and/or 'text', got a sequence" },
        { "expect-vfio empty", Vms + "steps:\n  - expect-vfio: { vm: web }\n", 10, 18, "expect-vfio: give 'files'" },
        { "expect-vfio flag", Vms + "steps:\n  - expect-vfio: { vm: web, non-coherent-dma: maybe }\n", 10, 47, "'non-coherent-dma' must be true or false, got 'maybe'" },
        { "expect-vfio files scalar", Vms + "steps:\n  - expect-vfio: { vm: web, files: /dev/vfio/1 }\n", 10, 36, "'files' must be a list" },
        { "expect-vfio files item", Vms + "steps:\n  - expect-vfio: { vm: web, files: [ [a] ] }\n", 10, 38, "'files' items must be text, got a sequence" },
        { "vfio unknown vm", Vms + "steps:\n  - attach-vfio: { vm: wbe, path: /dev/null }\n", 10, 5, "attach-vfio: unknown vm 'wbe' (did you mean 'web'?)" },
        { "vm vfio relative", "vms: [ { name: a, guest: hello, vfio: [dev/null] } ]\nsteps: [ { create: a } ]\n", 1, 40, "vm 'a': 'vfio' items must be an absolute path" },
        { "vm vfio twice", "vms: [ { name: a, guest: hello, vfio: [/dev/null, /dev/null] } ]\nsteps: [ { create: a } ]\n", 1, 51, "vm 'a': 'vfio' lists '/dev/null' twice" },
        { "unknown vm inside repeat", Vms + "steps:\n  - repeat:\n      times: 2\n      steps:\n        - pause: nope\n", 13, 11, "unknown vm 'nope'" },
    };

    [Theory]
    [MemberData(nameof(Errors))]
    public void Errors_name_the_problem_at_its_line_and_column(string what, string yaml, int line, int column, string message)
    {
        var e = Assert.Throws<ScenarioParseException>(() => ScenarioParser.Parse(yaml, "bad.yaml", AppContext.BaseDirectory));
        Assert.True(e.Errors.Any(x => x.Message.Contains(message, StringComparison.Ordinal)),
            $"{what}: no error contains \"{message}\"; got:\n{string.Join("\n", e.Errors)}");
        var error = e.Errors.First(x => x.Message.Contains(message, StringComparison.Ordinal));
        Assert.True((line, column) == (error.Location.Line, error.Location.Column), $"{what}: expected at {line}:{column}, got {error}");
        Assert.Equal("bad.yaml", error.Location.File);
        Assert.StartsWith($"bad.yaml:{line}:{column}: error: ", error.ToString());
    }

    [Fact]
    public void Every_structural_error_in_a_file_is_reported_at_once_in_file_order()
    {
        var e = Assert.Throws<ScenarioParseException>(() => ScenarioParser.Parse("""
            timeout: soon
            vms:
              - name: a
                guest: hello
                vcpus: many
            steps:
              - strat: a
              - expect-result: { vm: a }
            """, "many.yaml"));
        Assert.Equal(new[] { (1, 10), (5, 12), (7, 5), (8, 20) }, e.Errors.Select(x => (x.Location.Line, x.Location.Column)));
    }

    [Fact]
    public void An_unreadable_file_is_an_error_at_its_first_line()
    {
        var e = Assert.Throws<ScenarioParseException>(() => ScenarioParser.ParseFile("/nonexistent/x.yaml"));
        Assert.StartsWith("/nonexistent/x.yaml:1:1: error: cannot read the file: ", e.Errors.Single().ToString());
    }
}
