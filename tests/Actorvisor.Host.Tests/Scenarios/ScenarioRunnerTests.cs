using System.Diagnostics;
using Actorvisor.Host.Scenarios.Language;
using Actorvisor.Host.Scenarios.Running;
using Xunit.Abstractions;

namespace Actorvisor.Host.Tests.Scenarios;

/// <summary>The runner with real VMs on in-process nodes: each step kind, failures with expected/seen/serial, timeouts, cancellation, teardown.</summary>
public class ScenarioRunnerTests(ITestOutputHelper output)
{
    private const string Spinner = "{ name: port-io-loop, writes: 100000000 }";

    private Task<(ScenarioResult Result, RecordingNodeFactory Nodes, string Report)> Run(string yaml) => ScenarioTestSupport.RunAsync(yaml, output);

    private static StepResult Only(ScenarioResult result, StepStatus status) => result.Steps.Single(s => s.Status == status);

    [Fact]
    public async Task Every_lifecycle_step_drives_the_vm_through_its_states()
    {
        var (result, nodes, report) = await Run($$"""
            vms: [ { name: a, guest: {{Spinner}} } ]
            steps:
              - create: a
              - expect-state: { vm: a, state: created, timeout: 0ms }
              - start: a
              - pause: a
              - expect-state: { vm: a, state: paused }
              - resume: a
              - expect-state: { vm: a, state: running }
              - stop: a
              - expect-outcome: { vm: a, outcome: stopped }
              - destroy: a
              - expect-state: { vm: a, state: destroyed }
            """);
        Assert.True(result.Passed, report);
        Assert.Equal(VmStateName.Destroyed, nodes.Vms.Single().Observation.State);
    }

    [Fact]
    public async Task A_refused_request_fails_its_step_with_the_runtimes_reason_and_skips_the_rest()
    {
        var (result, _, report) = await Run("""
            vms: [ { name: a, guest: hello } ]
            steps:
              - create: a
              - pause: a
              - start: a
            """);
        Assert.False(result.Passed);
        var failed = Only(result, StepStatus.Failed);
        Assert.Equal("2", failed.Path);
        Assert.Contains("refused: VM 'a': cannot pause a VM that is Created", failed.Failure!.Message);
        Assert.Equal(StepStatus.Skipped, result.Steps[2].Status);
        Assert.Contains("not run: step 2 failed", result.Steps[2].Failure!.Message);
        Assert.Contains("0 passed, 1 failed", report);
    }

    [Fact]
    public async Task Expect_error_passes_on_the_expected_refusal_and_fails_when_the_request_succeeds_or_is_refused_otherwise()
    {
        var (passed, _, report) = await Run("""
            vms: [ { name: a, guest: hello } ]
            steps:
              - create: a
              - create: { vm: a, expect-error: "ALREADY EXISTS" }
            """);
        Assert.True(passed.Passed, report);
        Assert.Contains("a VM named 'a' already exists", passed.Steps[1].Detail);

        var (accepted, _, _) = await Run("""
            vms: [ { name: a, guest: hello } ]
            steps:
              - create: { vm: a, expect-error: "already exists" }
            """);
        var failure = Only(accepted, StepStatus.Failed).Failure!;
        Assert.Equal(("a refusal containing \"already exists\"", "the request succeeded"), (failure.Expected, failure.Seen));

        var (otherwise, _, _) = await Run("""
            vms: [ { name: a, guest: hello } ]
            steps:
              - create: a
              - pause: { vm: a, expect-error: "already exists" }
            """);
        failure = Only(otherwise, StepStatus.Failed).Failure!;
        Assert.Contains("cannot pause a VM that is Created", failure.Seen);
    }

    [Fact]
    public async Task A_step_on_a_vm_not_created_yet_says_how_to_fix_it()
    {
        var (result, _, _) = await Run("""
            vms: [ { name: a, guest: hello } ]
            steps:
              - start: a
            """);
        Assert.Contains("vm 'a' has not been created yet: add '- create: a' before this step", Only(result, StepStatus.Failed).Failure!.Message);
    }

    [Fact]
    public async Task Wait_for_serial_matches_text_and_regex_and_each_wait_starts_after_the_previous_match()
    {
        var (result, _, report) = await Run("""
            vms: [ { name: w, guest: { name: memory-writer, pages: 4 } }, { name: h, guest: hello } ]
            steps:
              - create: w
              - create: h
              - start: w
              - start: h
              - wait-for-serial: { vm: w, regex: "^checksum=[0-9a-f]{8}$" }
              - wait-for-serial: { vm: h, text: "Hello" }
              - wait-for-serial: { vm: h, text: "Hello", timeout: 600s }
            """);
        var failed = Only(result, StepStatus.Failed);
        Assert.Equal("7", failed.Path); // "Hello" is printed once; the second wait starts after the first match
        Assert.Contains("h ended without printing \"Hello\"", failed.Failure!.Message);
        // At once when the VM ended (well under a second, also beside a compile), not at the 600 s timeout.
        Assert.True(failed.Elapsed < TimeSpan.FromSeconds(120), $"failed at once when the VM ended, not at the timeout: {failed.Elapsed}");
        Assert.Equal("Hello from an Actorvisor guest!\n", failed.Failure.SerialTail);
        Assert.Contains("| Hello from an Actorvisor guest!", report);
    }

    [Fact]
    public async Task Wait_for_serial_times_out_with_what_it_waited_for_and_the_serial_output()
    {
        var (result, nodes, report) = await Run($$"""
            vms: [ { name: s, guest: {{Spinner}} } ]
            steps:
              - create: s
              - start: s
              - wait-for-serial: { vm: s, text: "never printed", timeout: 300ms }
              - stop: s
            """);
        var failed = Only(result, StepStatus.Failed);
        Assert.Equal("\"never printed\" did not appear on s's serial output within 300ms", failed.Failure!.Message);
        Assert.Contains("the vm is running", failed.Failure.Seen);
        // It waited the timeout out (the lower bound is what the test is about); the upper bound only says it did
        // not hang: the step ends within a few ms of its 300 ms, also beside a compile.
        Assert.InRange(failed.Elapsed, TimeSpan.FromMilliseconds(290), TimeSpan.FromSeconds(60));
        Assert.Equal(StepStatus.Skipped, result.Steps[3].Status);
        // The VM the scenario left running was torn down with its node.
        Assert.Equal(new Actorvisor.Host.Scenarios.Nodes.VmEnd(OutcomeKind.Stopped), nodes.Vms.Single().Observation.End);
        Assert.Contains("serial output of s: (none)", report);
    }

    [Fact]
    public async Task Expect_result_and_outcome_report_how_the_vm_really_ended()
    {
        var (result, _, report) = await Run("""
            vms: [ { name: e, guest: { name: exit-with, code: 9 } } ]
            steps:
              - create: e
              - start: e
              - expect-outcome: { vm: e, outcome: exited }
              - expect-result: { vm: e, code: 10 }
            """);
        var failure = Only(result, StepStatus.Failed).Failure!;
        Assert.Equal(("exit with result code 10", "exited with result code 9"), (failure.Expected, failure.Seen));
        Assert.Contains("expected: exit with result code 10", report);

        var (halted, _, _) = await Run("""
            vms: [ { name: h, guest: halt } ]
            steps:
              - create: h
              - start: h
              - expect-outcome: { vm: h, outcome: failed, reason: anything }
            """);
        failure = Only(halted, StepStatus.Failed).Failure!;
        Assert.Equal(("failed with a reason containing \"anything\"", "halted (all vCPUs)"), (failure.Expected, failure.Seen));
    }

    [Fact]
    public async Task Expect_state_fails_at_once_when_the_vm_ended_in_another_state_and_at_the_timeout_otherwise()
    {
        var (ended, _, _) = await Run("""
            vms: [ { name: t, guest: triple-fault } ]
            steps:
              - create: t
              - start: t
              - expect-state: { vm: t, state: stopped, timeout: 600s }
            """);
        var failed = Only(ended, StepStatus.Failed);
        Assert.StartsWith("t is failed (failed: ", failed.Failure!.Message);
        // At once (under a second, also beside a compile), not at the 600 s timeout.
        Assert.True(failed.Elapsed < TimeSpan.FromSeconds(120), failed.Elapsed.ToString());

        var (waiting, _, _) = await Run($$"""
            vms: [ { name: s, guest: {{Spinner}} } ]
            steps:
              - create: s
              - start: s
              - expect-state: { vm: s, state: paused, timeout: 200ms }
            """);
        var failure = Only(waiting, StepStatus.Failed).Failure!;
        Assert.Equal(("s did not become paused within 200ms", "paused", "running"), (failure.Message, failure.Expected, failure.Seen));
    }

    [Fact]
    public async Task Expect_memory_reads_live_memory_and_the_copy_kept_after_the_vm_ended()
    {
        // While paused: the spinning guest's code bytes at its load address are live RAM.
        var code = Actorvisor.Hardware.Guests.GuestLibrary.PortIoLoop(100000000).Bytes.ToArray();
        var sha = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(code));
        var (result, _, report) = await Run($$"""
            vms: [ { name: s, guest: {{Spinner}} }, { name: w, guest: { name: memory-writer, pages: 2 } } ]
            steps:
              - create: s
              - start: s
              - pause: s
              - expect-memory: { vm: s, address: 0x100000, length: {{code.Length}}, sha256: {{sha}} }
              - create: w
              - start: w
              - expect-result: { vm: w, code: {{Actorvisor.Hardware.Guests.GuestLibrary.ExpectedMemoryChecksum(2) & 0xff}} }
              - expect-memory: { vm: w, address: 0x200000, length: 8K, sum32: {{Actorvisor.Hardware.Guests.GuestLibrary.ExpectedMemoryChecksum(2):x8}} }
              - expect-memory: { vm: w, address: 0x200000, length: 8K, sum32: 12345678 }
            """);
        var failed = Only(result, StepStatus.Failed);
        Assert.Equal("9", failed.Path);
        Assert.Equal(("12345678", Actorvisor.Hardware.Guests.GuestLibrary.ExpectedMemoryChecksum(2).ToString("x8")), (failed.Failure!.Expected, failed.Failure.Seen));
        Assert.Contains("checksum=", failed.Failure.SerialTail);
        Assert.Equal(8, result.Steps.Count(s => s.Status == StepStatus.Passed));
    }

    [Fact]
    public async Task Expect_memory_reads_a_range_larger_than_one_request_from_a_running_vm_and_after_it_stopped()
    {
        // 20 MiB from the load address: the loop's code, then zeros. Read live in two requests (at most 16 MiB
        // each) while the guest runs, then from the copy its teardown kept.
        const int length = 20 << 20;
        var range = new byte[length];
        Actorvisor.Hardware.Guests.GuestLibrary.PortIoLoop(100000000).Bytes.Span.CopyTo(range);
        var sha = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(range));
        var (result, nodes, report) = await Run($$"""
            vms: [ { name: s, guest: {{Spinner}}, memory: 64M } ]
            steps:
              - create: s
              - start: s
              - expect-memory: { vm: s, address: 0x100000, length: 20M, sha256: {{sha}} }
              - expect-state: { vm: s, state: running }
              - stop: s
              - expect-memory: { vm: s, address: 0x100000, length: 20M, sha256: {{sha}} }
              - expect-memory: { vm: s, address: 0x100000, length: 20M, sum32: 0 }
            """);
        var failed = Only(result, StepStatus.Failed);
        Assert.Equal("7", failed.Path);
        Assert.Equal(6, result.Steps.Count(s => s.Status == StepStatus.Passed));
        Assert.Equal(Checksums.Compute(ChecksumAlgorithm.Sum32, range), failed.Failure!.Seen);
        Assert.Equal(VmStateName.Stopped, nodes.Vms.Single().Observation.State);
    }

    [Fact]
    public async Task A_crashed_device_fails_its_vm_only()
    {
        var (result, nodes, report) = await Run($$"""
            vms:
              - { name: broken, guest: {{Spinner}}, devices: [ { name: probe, kind: crashable-port, port: 0x80 } ] }
              - { name: healthy, guest: {{Spinner}} }
            steps:
              - create: broken
              - create: healthy
              - start: broken
              - start: healthy
              - inject: { fault: crash-device, vm: broken, device: probe }
              - expect-outcome: { vm: broken, outcome: failed, reason: "device 'probe' crashed" }
              - expect-state: { vm: healthy, state: running }
            """);
        Assert.True(result.Passed, report);
        Assert.Contains("fault injected by the scenario", nodes.Vms.First().Observation.End!.Reason);
    }

    [Fact]
    public async Task A_store_failing_before_the_guest_starts_fails_the_vm_at_its_first_lazy_page_naming_the_file_store()
    {
        var folder = Directory.CreateTempSubdirectory("scenario-lazy").FullName;
        await File.WriteAllBytesAsync(Path.Combine(folder, "image.raw"), new byte[3 * 4096]);
        var (result, nodes, report) = await ScenarioTestSupport.RunAsync("""
            vms:
              - name: lazy
                guest: { name: memory-writer, pages: 8, address: 0x40000000 }
                # Each read takes 1 s before it fails, and a fetch tries 3 times: the start is acknowledged first (in
                # milliseconds, under a second beside a compile, against the 3 s before page 0 is known to fail).
                # With no latency the vCPU could fail on page 0 before acknowledging, and the start itself was
                # refused with that reason.
                lazy-memory: { size: 64K, store: file, file: image.raw, latency: 1s }
            steps:
              - create: lazy
              - inject: { fault: failing-store, vm: lazy }
              - start: lazy
              - expect-outcome: { vm: lazy, outcome: failed, reason: "lazy memory page 0 (guest-physical 0x40000000) could not be read", timeout: 120s }
              # The teardown releases the vCPU blocked on page 0; it may fault once more before it stops.
              - expect-async-pf: { vm: lazy, faults: ">= 1", failed: ">= 1", live-workers: 0, running-fetches: 0 }
            """, output, "failing.yaml", folder);
        Assert.True(result.Passed, report);
        Assert.Contains($"backing store 'slow(1000 ms) file {Path.Combine(folder, "image.raw")}'", nodes.Vms.Single().Observation.End!.Reason);
    }

    [Fact]
    public async Task Expect_async_pf_waits_for_its_counters_and_fails_with_what_it_saw()
    {
        var (result, _, _) = await Run("""
            vms:
              - name: lazy
                guest: { name: memory-writer, pages: 16, address: 0x40000000 }
                lazy-memory: { size: 64K }
            steps:
              - create: lazy
              - expect-async-pf: { vm: lazy, faults: 0 }
              - start: lazy
              - expect-async-pf: { vm: lazy, faults: ">= 1", timeout: 10s }
              - expect-result: { vm: lazy, code: 0 }
              - expect-async-pf: { vm: lazy, failed: 0, faults: "> 1000", timeout: 300ms }
            """);
        var failed = Only(result, StepStatus.Failed);
        Assert.Equal("6", failed.Path);
        Assert.Equal("lazy's async page-fault counters did not meet faults > 1000 within 300ms", failed.Failure!.Message);
        Assert.Equal("faults > 1000, failed = 0", failed.Failure.Expected);
        Assert.Matches("^faults = [1-9][0-9]*, failed = 0$", failed.Failure.Seen);
    }

    [Fact]
    public async Task A_triple_fault_injected_into_a_running_guest_fails_it_with_a_shutdown()
    {
        var (result, nodes, report) = await Run($$"""
            vms: [ { name: v, guest: {{Spinner}} } ]
            steps:
              - create: v
              - start: v
              - inject: { fault: triple-fault, vm: v }
              - expect-outcome: { vm: v, outcome: failed, reason: triple fault }
            """);
        Assert.True(result.Passed, report);
        output.WriteLine(nodes.Vms.Single().Observation.End!.Reason);
    }

    [Fact]
    public async Task Repeat_runs_its_body_n_times_and_names_the_failing_iteration()
    {
        var (passed, _, report) = await Run("""
            vms: [ { name: a, guest: hello } ]
            steps:
              - repeat:
                  times: 3
                  steps:
                    - create: a
                    - start: a
                    - expect-result: { vm: a, code: 0 }
                    - destroy: a
            """);
        Assert.True(passed.Passed, report);
        Assert.Equal("3 iterations", passed.Steps[0].Detail);
        Assert.Equal(new[] { "1#3.1", "1#3.2", "1#3.3", "1#3.4" }, passed.Steps[0].Children!.Select(c => c.Path));

        var (failed, _, _) = await Run("""
            vms: [ { name: a, guest: hello } ]
            steps:
              - repeat:
                  times: 3
                  steps:
                    - create: a
                    - start: a
            """);
        var step = failed.Steps.Single();
        Assert.Equal("failed in iteration 2 of 3", step.Detail);
        Assert.Equal("1#2.1", step.Cause.Path);
        Assert.Contains("already exists", step.Cause.Failure!.Message);
    }

    [Fact]
    public async Task Parallel_runs_branches_at_once_and_cancels_the_others_when_one_fails()
    {
        var clock = Stopwatch.StartNew();
        var (result, _, report) = await Run($$"""
            vms: [ { name: s, guest: {{Spinner}} }, { name: e, guest: { name: exit-with, code: 1 } } ]
            steps:
              - parallel:
                  - create: s
                  - create: e
              - start: s
              - start: e
              - parallel:
                  - wait-for-serial: { vm: s, text: "never", timeout: 600s }
                  - expect-result: { vm: e, code: 0 }
            """);
        // The whole run takes about a second (a few beside a compile); the wait it cancelled would take 600 s.
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(120), $"the failing branch cancelled the 600 s wait: {clock.Elapsed}");
        var parallel = result.Steps[3];
        Assert.Equal(StepStatus.Failed, parallel.Status);
        Assert.Equal(StepStatus.Skipped, parallel.Children![0].Status);
        Assert.Equal("cancelled: another parallel branch failed", parallel.Children[0].Failure!.Message);
        Assert.Equal(StepStatus.Failed, parallel.Children[1].Status);
        Assert.Equal("4.2", parallel.Cause.Path);
        Assert.True(result.Steps[0].Status == StepStatus.Passed, report);
    }

    [Fact]
    public async Task Measure_records_samples_by_name_and_fails_over_its_bound()
    {
        var (result, _, report) = await Run("""
            vms: [ { name: a, guest: hello } ]
            steps:
              - repeat:
                  times: 3
                  steps:
                    - measure:
                        name: boot
                        steps:
                          - create: a
                          - start: a
                          - expect-result: { vm: a, code: 0 }
                    - destroy: a
              - measure: { name: too-slow, at-most: 1ms, steps: [ { create: a }, { start: a }, { expect-result: { vm: a, code: 0 } } ] }
            """);
        var boot = result.Measurements.Single(m => m.Name == "boot");
        Assert.Equal(3, boot.Samples.Count);
        Assert.All(boot.Samples, s => Assert.True(s > TimeSpan.Zero));
        Assert.True(boot.Min <= boot.Median && boot.Median <= boot.Max);
        var failed = result.Steps[1];
        Assert.Equal(StepStatus.Failed, failed.Status);
        Assert.Equal("at most 1ms", failed.Failure!.Expected);
        Assert.Contains("Measurements", report);
        Assert.Contains("boot", report);
    }

    [Fact]
    public async Task The_scenario_timeout_ends_a_step_that_would_wait_longer()
    {
        // The scenario's timeout must expire in the wait, not in create or start: those take about 0.1 s, and up
        // to 1.6 s measured on a 2-core machine at load average 40 (a 1 s timeout once expired during create), so
        // 20 s leaves them ten times that. The wait's own 600 s timeout is what the scenario timeout cuts short.
        // The guest is "spin" (2^31 port writes, minutes): the 10^8-write spinner of the other tests ended after
        // 17 s here, before the scenario's timeout.
        var (result, nodes, _) = await Run("""
            timeout: 20s
            vms: [ { name: s, guest: spin } ]
            steps:
              - create: s
              - start: s
              - wait-for-serial: { vm: s, text: never, timeout: 600s }
            """);
        Assert.Equal([StepStatus.Passed, StepStatus.Passed, StepStatus.Failed], result.Steps.Select(s => s.Status));
        Assert.Equal("the scenario's timeout of 20s expired during this step", result.Steps[2].Failure!.Message);
        Assert.True(result.Elapsed < TimeSpan.FromSeconds(300), result.Elapsed.ToString());
        Assert.Equal(OutcomeKind.Stopped, nodes.Vms.Single().Observation.End!.Kind);
    }

    [Fact]
    public async Task The_default_step_timeout_applies_to_steps_without_their_own()
    {
        var (result, _, _) = await Run($$"""
            step-timeout: 250ms
            vms: [ { name: s, guest: {{Spinner}} } ]
            steps:
              - create: { vm: s, timeout: 30s }
              - start: { vm: s, timeout: 30s }
              - expect-state: { vm: s, state: stopped }
            """);
        var failed = Only(result, StepStatus.Failed);
        Assert.Equal("s did not become stopped within 250ms", failed.Failure!.Message);
    }

    [Fact]
    public async Task Expect_rejected_checks_another_file_s_errors_and_their_location()
    {
        var folder = Directory.CreateTempSubdirectory("scenario-test").FullName;
        await File.WriteAllTextAsync(Path.Combine(folder, "bad.yaml"), "steps:\n  - strat: x\n");
        await File.WriteAllTextAsync(Path.Combine(folder, "good.yaml"), "steps:\n  - expect-rejected: { file: bad.yaml, error: x }\n");
        var (result, nodes, report) = await ScenarioTestSupport.RunAsync("""
            steps:
              - expect-rejected: { file: bad.yaml, line: 2, column: 5, error: "unknown step 'strat'" }
              - expect-rejected: { file: bad.yaml, line: 3, error: "unknown step 'strat'" }
            """, output, "rejects.yaml", folder);
        Assert.Equal(StepStatus.Passed, result.Steps[0].Status);
        Assert.Equal("2:5: unknown step 'strat' (did you mean 'start'?); known steps: create, start, pause, resume, stop, destroy, snapshot, restore, migrate, wait-for-serial, console-input, expect-state, expect-result, expect-outcome, expect-memory, expect-async-pf, expect-async-pf-guest, expect-placement, inject, attach-vfio, detach-vfio, expect-vfio, repeat, parallel, measure, expect-rejected", result.Steps[0].Detail);
        var failure = result.Steps[1].Failure!;
        Assert.Equal("an error at line 3 containing \"unknown step 'strat'\"", failure.Expected);
        Assert.StartsWith("2:5: unknown step 'strat'", failure.Seen);

        var (accepted, _, _) = await ScenarioTestSupport.RunAsync("steps:\n  - expect-rejected: { file: good.yaml, error: x }\n", output, "accepts.yaml", folder);
        Assert.Equal("good.yaml was accepted, but the scenario expects it to be rejected", accepted.Steps[0].Failure!.Message);
    }
}
