using System.Diagnostics;
using System.Globalization;
using System.Text;
using Actorvisor.Actors.AsyncPf;
using Actorvisor.Actors.Registry;
using Actorvisor.Actors.Runtime;
using Actorvisor.Actors.Vm;
using Actorvisor.Hardware.Accel;
using Actorvisor.Hardware.Guests;
using Actorvisor.Hardware.Images;
using Actorvisor.Hardware.Lazy;
using Actorvisor.Hardware.Machines;
using Akka.Actor;

namespace Actorvisor.Host.Bench;

/// <summary>
/// `bench asyncpf-guest` (issue 15): the async-PF scheduler guest (<see cref="AsyncPfSchedulerGuest"/>: one walker over
/// lazy pages from a slow store, compute tasks, one vCPU) run three ways, on the software accelerator or on KVM: with the protocol
/// (the walker sleeps, the compute tasks run), without it (the vCPU blocks on every missing page, today's behaviour),
/// and with every page already present (no fault). Each run is timed from start to the guest's exit (it exits when the
/// walker is done); <c>compute_units_*</c> is the compute tasks' units per second of that time, and
/// <c>overlap</c> = (apf - blocking) / (nofault - blocking): how much of the compute the blocking vCPU loses the
/// protocol wins back. One warm-up run of each, then alternated rounds; medians with min and max.
/// On KVM the guest runs on the PC platform (KVM's async page faults need its in-kernel LAPIC) and the kernel's
/// async_pf.c does the protocol; without it KVM still faults the page in asynchronously but halts the vCPU in the
/// kernel meanwhile (an interrupt such as the guest's timer tick ends that halt), so "blocking" is that behaviour there.
/// </summary>
public static class AsyncPfGuestBenchmark
{
    private enum Mode { Apf, Blocking, NoFault }

    /// <summary>Runs the benchmark and returns its figures in print order; progress goes to <paramref name="log"/>.</summary>
    public static IReadOnlyList<(string Key, string Value)> Run(AcceleratorPreference preference, int pages, double latencyMs, int computeTasks, int rounds, TextWriter log) =>
        RunAsync(preference, pages, latencyMs, computeTasks, rounds, log).GetAwaiter().GetResult();

    private static async Task<IReadOnlyList<(string Key, string Value)>> RunAsync(AcceleratorPreference preference, int pages, double latencyMs, int computeTasks, int rounds,
        TextWriter log)
    {
        var work = Directory.CreateTempSubdirectory("actorvisor-asyncpf-guest-");
        try
        {
            var image = Path.Combine(work.FullName, "image.raw");
            var bytes = new byte[(long)pages * 4096];
            new Random(15).NextBytes(bytes);
            await File.WriteAllBytesAsync(image, bytes);
            uint expectedSum = AsyncPfSchedulerGuest.ExpectedSum(bytes, pages);
            var latency = TimeSpan.FromMilliseconds(latencyMs);
            using var accelerator = AcceleratorSelector.Open(preference, out var note);
            if (note is not null) log.WriteLine($"asyncpf-guest: KVM not used: {note}");
            await using var runtime = ActorvisorRuntime.Start(new NodeCapacity(16, 64UL << 30), "asyncpf-guest-bench", requestTimeout: TimeSpan.FromMinutes(5));

            var rates = new Dictionary<Mode, RoundSamples>
            {
                [Mode.Apf] = new("asyncpf_guest.compute_units_apf", "0"),
                [Mode.Blocking] = new("asyncpf_guest.compute_units_blocking", "0"),
                [Mode.NoFault] = new("asyncpf_guest.compute_units_nofault", "0"),
            };
            var walkApf = new RoundSamples("asyncpf_guest.walk_s_apf", "0.000");
            var walkBlocking = new RoundSamples("asyncpf_guest.walk_s_blocking", "0.000");
            var walkNoFault = new RoundSamples("asyncpf_guest.walk_s_nofault", "0.000");
            var overlap = new RoundSamples("asyncpf_guest.overlap", "0.00");
            var notPresent = new RoundSamples("asyncpf_guest.not_present_apf", "0");
            var early = new RoundSamples("asyncpf_guest.early_ready_apf", "0");
            Mode[] order = [Mode.Apf, Mode.Blocking, Mode.NoFault];
            foreach (var mode in order) await MeasureAsync(runtime, accelerator, image, pages, latency, computeTasks, mode, expectedSum, "warm-up");
            for (int r = 0; r < rounds; r++)
            {
                var results = new Dictionary<Mode, (double Seconds, AsyncPfSchedulerReport Report)>();
                // Alternate the order, so that a change in the machine's load affects every mode alike.
                foreach (var mode in r % 2 == 0 ? order : order.Reverse())
                    results[mode] = await MeasureAsync(runtime, accelerator, image, pages, latency, computeTasks, mode, expectedSum, r.ToString(CultureInfo.InvariantCulture));
                double Rate(Mode m) => results[m].Report.ComputeUnits / results[m].Seconds;
                foreach (var mode in order) rates[mode].Add(Rate(mode));
                walkApf.Add(results[Mode.Apf].Seconds);
                walkBlocking.Add(results[Mode.Blocking].Seconds);
                walkNoFault.Add(results[Mode.NoFault].Seconds);
                overlap.Add((Rate(Mode.Apf) - Rate(Mode.Blocking)) / (Rate(Mode.NoFault) - Rate(Mode.Blocking)));
                notPresent.Add(results[Mode.Apf].Report.NotPresent);
                early.Add(results[Mode.Apf].Report.EarlyReady);
                log.WriteLine($"asyncpf-guest: round {r}: units/s apf {Rate(Mode.Apf):0} blocking {Rate(Mode.Blocking):0} nofault {Rate(Mode.NoFault):0}; "
                    + $"walk s apf {results[Mode.Apf].Seconds:0.000} blocking {results[Mode.Blocking].Seconds:0.000} nofault {results[Mode.NoFault].Seconds:0.000}; "
                    + $"not-present {results[Mode.Apf].Report.NotPresent} early {results[Mode.Apf].Report.EarlyReady}; "
                    + $"apf ticks {results[Mode.Apf].Report.Ticks}, of which kept a just-woken task {results[Mode.Apf].Report.WokenKept}");
            }
            var figures = new List<(string, string)>
            {
                ("asyncpf_guest.accelerator", accelerator.Kind == AcceleratorKind.Kvm ? "kvm" : "software"),
                ("asyncpf_guest.pages", Int(pages)),
                ("asyncpf_guest.store_latency_ms", latencyMs.ToString("0.###", CultureInfo.InvariantCulture)),
                ("asyncpf_guest.compute_tasks", Int(computeTasks)),
                ("asyncpf_guest.rounds", Int(rounds)),
            };
            foreach (var mode in order) figures.AddRange(rates[mode].Figures());
            figures.AddRange(overlap.Figures());
            figures.AddRange(walkApf.Figures());
            figures.AddRange(walkBlocking.Figures());
            figures.AddRange(walkNoFault.Figures());
            figures.AddRange(notPresent.Figures());
            figures.AddRange(early.Figures());
            return figures;
        }
        finally
        {
            work.Delete(recursive: true);
        }
    }

    private static string Int(long value) => value.ToString(CultureInfo.InvariantCulture);

    private static async Task<(double Seconds, AsyncPfSchedulerReport Report)> MeasureAsync(ActorvisorRuntime runtime, IAccelerator accelerator, string image,
        int pages, TimeSpan latency, int computeTasks, Mode mode, uint expectedSum, string round)
    {
        using var file = FileBackingStore.Open(image);
        var store = new SlowBackingStore(file, latency);
        IBootableImage guest = AsyncPfSchedulerGuest.Build(AsyncPfGuest.LazyBase, pages, computeTasks, useAsyncPf: mode != Mode.Blocking);
        if (accelerator.Kind == AcceleratorKind.Kvm) guest = new PcPlatformImage(guest);
        var spec = MachineVm.Spec($"apf-guest-{mode}-{round}".ToLowerInvariant(), accelerator, new MachineSpec
        {
            Image = guest,
            MemoryBytes = 4UL << 20,
            LazyMemory = new LazyMemorySpec(AsyncPfGuest.LazyBase, (ulong)pages * 4096, store),
        });
        var console = new StringBuilder();
        var clock = new Stopwatch();
        // The guest exits when its walker is done: the run is timed to the VM leaving Running, not to the end of teardown.
        var stopping = new TaskCompletionSource<double>(TaskCreationOptions.RunContinuationsAsynchronously);
        var session = await runtime.CreateVmAsync(spec, e =>
        {
            if (e is VmConsoleOutput output) lock (console) console.Append(output.Text);
            else if (e is VmStateChanged { To: VmState.Stopping }) stopping.TrySetResult(clock.Elapsed.TotalSeconds);
        });
        try
        {
            if (mode == Mode.NoFault)
            {
                var filled = await session.Vm.Ask<object>(FillLazyMemory.Instance, runtime.RequestTimeout);
                if (filled is not LazyMemoryFilled { Completed: true }) throw new InvalidOperationException($"the fill did not complete: {filled}");
            }
            clock.Start();
            await session.StartAsync();
            var outcome = await session.Ended.WaitAsync(TimeSpan.FromMinutes(5));
            double seconds = await stopping.Task;
            string text;
            lock (console) text = console.ToString();
            if (outcome is not VmOutcome.Exited { ResultCode: 0 }) throw new InvalidOperationException($"{mode} run {round}: {outcome}; console: {text}");
            var report = AsyncPfSchedulerReport.Parse(text);
            if (report.WalkSum != expectedSum) throw new InvalidOperationException($"{mode} run {round}: the walker read wrong data (sum {report.WalkSum:x8})");
            if (report.Inconsistencies() is { Count: > 0 } broken) throw new InvalidOperationException($"{mode} run {round}: {string.Join("; ", broken)}");
            if (report.AsyncPfEnabled != (mode != Mode.Blocking)) throw new InvalidOperationException($"{mode} run {round}: protocol {(report.AsyncPfEnabled ? "on" : "off")}");
            return (seconds, report);
        }
        finally
        {
            await session.DestroyAsync();
        }
    }
}
