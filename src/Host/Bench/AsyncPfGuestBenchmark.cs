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
/// and with every page already present (no fault). <c>walk_s_*</c> is the time from the guest's tasks starting (it
/// reports that on its hold port, so the VM's start-up is not counted) to the walker's end. <c>compute_units_*</c> is
/// the compute tasks' units per second over one window, the same length in the three runs of a round: from the tasks'
/// start for as long as the shorter of the two faulting walks, so the walker is active for all of it in
/// both faulting runs; the guest is built with a hold port (<see cref="WalkHoldDevice"/>), so in the no-fault run,
/// whose walk ends at once, the parked walker leaves the vCPU to the compute tasks for the whole window. The units
/// are read from guest memory every <see cref="SampleInterval"/> and interpolated at the window's end.
/// <c>overlap</c> = (apf - blocking) / (nofault - blocking): how much of the compute the blocking vCPU loses the
/// protocol wins back. One warm-up run of each, then rounds (the faulting runs alternate their order, the no-fault run
/// comes last: it needs the round's window); medians with min and max.
/// On KVM the guest runs on the PC platform (KVM's async page faults need its in-kernel LAPIC) and the kernel's
/// async_pf.c does the protocol; without it KVM still faults the page in asynchronously but halts the vCPU in the
/// kernel meanwhile (an interrupt such as the guest's timer tick ends that halt), so "blocking" is that behaviour there.
/// </summary>
public static class AsyncPfGuestBenchmark
{
    /// <summary>How often a run's compute progress is read from guest memory.</summary>
    public static readonly TimeSpan SampleInterval = TimeSpan.FromMilliseconds(10);

    private enum Mode { Apf, Blocking, NoFault }

    private sealed record RunResult(double WalkSeconds, AsyncPfSchedulerReport Report, ComputeTimeline Timeline, AsyncPfReport Counters)
    {
        /// <summary>Compute units per second over the <paramref name="window"/> seconds from the tasks' start.</summary>
        public double Rate(double window) => Timeline.UnitsAt(Timeline.StartSeconds + window) / window;

        /// <summary>The share of the window the vCPU thread was runnable but waiting for a host CPU (other processes had them).</summary>
        public double QueuedShare(double window) => Timeline.QueuedAt(Timeline.StartSeconds + window) / window;

        /// <summary>
        /// Compute units per second of the window less the time the vCPU thread waited for a host CPU: the rate of a vCPU
        /// with a host CPU of its own whenever it wants one, on a machine whose other load comes and goes between runs.
        /// </summary>
        public double UncontendedRate(double window) => Timeline.UnitsAt(Timeline.StartSeconds + window) / (window * (1 - QueuedShare(window)));

        /// <summary>
        /// The share of the window the vCPU thread was neither on a host CPU nor queued for one: it waited (on a page
        /// when it blocks, or on anything else: a lock, the garbage collector's pause of managed code).
        /// </summary>
        public double WaitingShare(double window) => 1 - QueuedShare(window) - Timeline.OnCpuAt(Timeline.StartSeconds + window) / window;

        /// <summary>Compute units per second the vCPU thread spent on a host CPU in the window (the emulation's own speed, waits left out).</summary>
        public double UnitsPerCpuSecond(double window) => Timeline.UnitsAt(Timeline.StartSeconds + window) / Timeline.OnCpuAt(Timeline.StartSeconds + window);
    }

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
            Task<RunResult> Measure(Mode mode, double holdSeconds, string round) =>
                MeasureAsync(runtime, accelerator, image, pages, latency, computeTasks, mode, holdSeconds, expectedSum, round);

            var rates = PerMode("asyncpf_guest.compute_units", "0");
            var uncontended = PerMode("asyncpf_guest.compute_units_uncontended", "0");
            var queued = PerMode("asyncpf_guest.vcpu_queued_share", "0.00");
            var perCpuSecond = PerMode("asyncpf_guest.units_per_cpu_s", "0");
            var overlapUncontended = new RoundSamples("asyncpf_guest.overlap_uncontended", "0.00");
            var window = new RoundSamples("asyncpf_guest.window_s", "0.000");
            var walkApf = new RoundSamples("asyncpf_guest.walk_s_apf", "0.000");
            var walkBlocking = new RoundSamples("asyncpf_guest.walk_s_blocking", "0.000");
            var walkNoFault = new RoundSamples("asyncpf_guest.walk_s_nofault", "0.000");
            var overlap = new RoundSamples("asyncpf_guest.overlap", "0.00");
            var notPresent = new RoundSamples("asyncpf_guest.not_present_apf", "0");
            var early = new RoundSamples("asyncpf_guest.early_ready_apf", "0");
            var readahead = new RoundSamples("asyncpf_guest.readahead_apf", "0");
            var waitMs = new RoundSamples("asyncpf_guest.page_wait_ms_apf", "0.00");
            Mode[] faulting = [Mode.Apf, Mode.Blocking];
            var warmApf = await Measure(Mode.Apf, 0, "warm-up");
            var warmBlocking = await Measure(Mode.Blocking, 0, "warm-up");
            await Measure(Mode.NoFault, Math.Min(warmApf.WalkSeconds, warmBlocking.WalkSeconds), "warm-up");
            for (int r = 0; r < rounds; r++)
            {
                var results = new Dictionary<Mode, RunResult>();
                string round = r.ToString(CultureInfo.InvariantCulture);
                // Alternate the order, so that a change in the machine's load affects both faulting modes alike.
                foreach (var mode in r % 2 == 0 ? faulting : faulting.Reverse()) results[mode] = await Measure(mode, 0, round);
                double w = Math.Min(results[Mode.Apf].WalkSeconds, results[Mode.Blocking].WalkSeconds);
                results[Mode.NoFault] = await Measure(Mode.NoFault, w, round);
                double Rate(Mode m) => results[m].Rate(w);
                foreach (var mode in rates.Keys) rates[mode].Add(Rate(mode));
                window.Add(w);
                walkApf.Add(results[Mode.Apf].WalkSeconds);
                walkBlocking.Add(results[Mode.Blocking].WalkSeconds);
                walkNoFault.Add(results[Mode.NoFault].WalkSeconds);
                overlap.Add((Rate(Mode.Apf) - Rate(Mode.Blocking)) / (Rate(Mode.NoFault) - Rate(Mode.Blocking)));
                bool schedTimes = results.Values.All(x => x.Timeline.HasSchedulerTimes);
                string sched = "";
                if (schedTimes)
                {
                    double Uncontended(Mode m) => results[m].UncontendedRate(w);
                    foreach (var mode in rates.Keys)
                    {
                        uncontended[mode].Add(Uncontended(mode));
                        queued[mode].Add(results[mode].QueuedShare(w));
                        perCpuSecond[mode].Add(results[mode].UnitsPerCpuSecond(w));
                    }
                    overlapUncontended.Add((Uncontended(Mode.Apf) - Uncontended(Mode.Blocking)) / (Uncontended(Mode.NoFault) - Uncontended(Mode.Blocking)));
                    sched = $"; uncontended units/s apf {Uncontended(Mode.Apf):0} blocking {Uncontended(Mode.Blocking):0} nofault {Uncontended(Mode.NoFault):0}"
                        + $" (vCPU thread queued {results[Mode.Apf].QueuedShare(w):P0} / {results[Mode.Blocking].QueuedShare(w):P0} / {results[Mode.NoFault].QueuedShare(w):P0} of the window;"
                        + $" waiting {results[Mode.Apf].WaitingShare(w):P0} / {results[Mode.Blocking].WaitingShare(w):P0} / {results[Mode.NoFault].WaitingShare(w):P0};"
                        + $" units per CPU second {results[Mode.Apf].UnitsPerCpuSecond(w):0} / {results[Mode.Blocking].UnitsPerCpuSecond(w):0} / {results[Mode.NoFault].UnitsPerCpuSecond(w):0})";
                }
                var apf = results[Mode.Apf];
                notPresent.Add(apf.Report.NotPresent);
                early.Add(apf.Report.EarlyReady);
                readahead.Add(apf.Counters.Vcpus.Sum(v => v.Readahead));
                long answered = apf.Counters.Vcpus.Sum(v => v.GuestReady);
                if (answered > 0) waitMs.Add(apf.Counters.Vcpus.Sum(v => v.GuestWaitMicroseconds) / 1000.0 / answered);
                log.WriteLine($"asyncpf-guest: round {r}: window {w:0.000} s; units/s apf {Rate(Mode.Apf):0} blocking {Rate(Mode.Blocking):0} nofault {Rate(Mode.NoFault):0}"
                    + sched + "; "
                    + $"walk s apf {apf.WalkSeconds:0.000} blocking {results[Mode.Blocking].WalkSeconds:0.000} nofault {results[Mode.NoFault].WalkSeconds:0.000}; "
                    + $"not-present {apf.Report.NotPresent} early {apf.Report.EarlyReady}; apf ticks {apf.Report.Ticks}, of which kept a just-woken task {apf.Report.WokenKept}; "
                    + $"apf runtime: {Describe(apf.Counters)}; blocking runtime: {Describe(results[Mode.Blocking].Counters)}");
            }
            var figures = new List<(string, string)>
            {
                ("asyncpf_guest.accelerator", accelerator.Kind == AcceleratorKind.Kvm ? "kvm" : "software"),
                ("asyncpf_guest.pages", Int(pages)),
                ("asyncpf_guest.store_latency_ms", latencyMs.ToString("0.###", CultureInfo.InvariantCulture)),
                ("asyncpf_guest.compute_tasks", Int(computeTasks)),
                ("asyncpf_guest.rounds", Int(rounds)),
            };
            foreach (var samples in rates.Values) figures.AddRange(samples.Figures());
            figures.AddRange(overlap.Figures());
            if (overlapUncontended.Values.Count > 0)
            {
                foreach (var samples in uncontended.Values) figures.AddRange(samples.Figures());
                figures.AddRange(overlapUncontended.Figures());
                foreach (var samples in queued.Values) figures.AddRange(samples.Figures());
                foreach (var samples in perCpuSecond.Values) figures.AddRange(samples.Figures());
            }
            figures.AddRange(window.Figures());
            figures.AddRange(walkApf.Figures());
            figures.AddRange(walkBlocking.Figures());
            figures.AddRange(walkNoFault.Figures());
            figures.AddRange(notPresent.Figures());
            figures.AddRange(early.Figures());
            figures.AddRange(readahead.Figures());
            if (waitMs.Values.Count > 0) figures.AddRange(waitMs.Figures());
            return figures;
        }
        finally
        {
            work.Delete(recursive: true);
        }
    }

    // One figure per mode: KEY_apf, KEY_blocking, KEY_nofault.
    private static Dictionary<Mode, RoundSamples> PerMode(string key, string format) => new()
    {
        [Mode.Apf] = new($"{key}_apf", format),
        [Mode.Blocking] = new($"{key}_blocking", format),
        [Mode.NoFault] = new($"{key}_nofault", format),
    };

    private static string Int(long value) => value.ToString(CultureInfo.InvariantCulture);

    private static string Describe(AsyncPfReport c)
    {
        var v = c.Vcpus[0];
        string wait = v.GuestReady == 0 ? "-" : (v.GuestWaitMicroseconds / 1000.0 / v.GuestReady).ToString("0.00", CultureInfo.InvariantCulture);
        return $"faults {v.Faults} (async {v.Async}, joined {v.Joined}, sync {v.SyncFallbacks}), guest-visible {v.GuestFaults} (joined {v.GuestJoined}, ready {v.GuestReady}, mean wait {wait} ms), "
            + $"readahead {v.Readahead}, unattributed {c.UnattributedFaults}";
    }

    // One run: sampled until the walker is done and holdSeconds have passed since the tasks started, then the parked
    // walker is released and the guest reports and exits.
    private static async Task<RunResult> MeasureAsync(ActorvisorRuntime runtime, IAccelerator accelerator, string image,
        int pages, TimeSpan latency, int computeTasks, Mode mode, double holdSeconds, uint expectedSum, string round)
    {
        using var file = FileBackingStore.Open(image);
        var store = new SlowBackingStore(file, latency);
        IBootableImage guest = AsyncPfSchedulerGuest.Build(AsyncPfGuest.LazyBase, pages, computeTasks, useAsyncPf: mode != Mode.Blocking, WalkHoldDevice.Port);
        if (accelerator.Kind == AcceleratorKind.Kvm) guest = new PcPlatformImage(guest);
        var clock = new Stopwatch();
        var hold = new WalkHoldDevice(clock);
        var spec = MachineVm.Spec($"apf-guest-{mode}-{round}".ToLowerInvariant(), accelerator, new MachineSpec
        {
            Image = guest,
            MemoryBytes = 4UL << 20,
            LazyMemory = new LazyMemorySpec(AsyncPfGuest.LazyBase, (ulong)pages * 4096, store),
        }, m =>
        {
            m.Bus.RegisterPorts(WalkHoldDevice.Port, 1, hold);
            return [];
        });
        var console = new StringBuilder();
        var session = await runtime.CreateVmAsync(spec, e =>
        {
            if (e is VmConsoleOutput output) lock (console) console.Append(output.Text);
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
            var deadline = clock.Elapsed + TimeSpan.FromMinutes(5);
            await Task.WhenAny(hold.Started.Task, session.Ended).WaitAsync(deadline - clock.Elapsed);
            ComputeTimeline? timeline = hold.Started.Task.IsCompleted ? new ComputeTimeline(hold.Started.Task.Result, hold.SchedStatAtStart) : null;
            // Until the walk is done and one sample lies at or past both its end and the hold.
            while (timeline is not null && !session.Ended.IsCompleted && clock.Elapsed < deadline)
            {
                bool enough = hold.WalkDone.Task.IsCompleted && timeline.LastSeconds >= Math.Max(timeline.StartSeconds + holdSeconds, hold.WalkDone.Task.Result);
                if (enough) break;
                await Task.WhenAny(Task.Delay(SampleInterval), session.Ended);
                double before = clock.Elapsed.TotalSeconds;
                var units = await ReadComputeUnitsAsync(session, computeTasks, runtime.RequestTimeout);
                var sched = hold.VcpuThread!.Read();
                if (units is { } u) timeline.Add((before + clock.Elapsed.TotalSeconds) / 2, u, sched);
            }
            hold.Release();
            var outcome = await session.Ended.WaitAsync(TimeSpan.FromMinutes(5));
            string text;
            lock (console) text = console.ToString();
            if (outcome is not VmOutcome.Exited { ResultCode: 0 }) throw new InvalidOperationException($"{mode} run {round}: {outcome}; console: {text}");
            var report = AsyncPfSchedulerReport.Parse(text);
            if (report.WalkSum != expectedSum) throw new InvalidOperationException($"{mode} run {round}: the walker read wrong data (sum {report.WalkSum:x8})");
            if (report.Inconsistencies() is { Count: > 0 } broken) throw new InvalidOperationException($"{mode} run {round}: {string.Join("; ", broken)}");
            if (report.AsyncPfEnabled != (mode != Mode.Blocking)) throw new InvalidOperationException($"{mode} run {round}: protocol {(report.AsyncPfEnabled ? "on" : "off")}");
            if (!hold.WalkDone.Task.IsCompleted || timeline is null)
                throw new InvalidOperationException($"{mode} run {round}: the guest exited without reporting its start and its walk done");
            var counters = await session.Vm.Ask<AsyncPfReport>(GetAsyncPfCounters.Instance, runtime.RequestTimeout);
            return new RunResult(hold.WalkDone.Task.Result - timeline.StartSeconds, report, timeline, counters);
        }
        finally
        {
            await session.DestroyAsync();
        }
    }

    // The compute tasks' units so far, from their task control blocks; null while the VM does not lend its memory yet.
    private static async Task<ulong?> ReadComputeUnitsAsync(VmSession session, int computeTasks, TimeSpan timeout)
    {
        var reply = await session.Vm.Ask<object>(new ReadGuestMemory(AsyncPfSchedulerGuest.ProgressOf(1), computeTasks * AsyncPfSchedulerGuest.TcbSize), timeout);
        if (reply is not GuestMemoryRead read) return null;
        ulong units = 0;
        for (int t = 0; t < computeTasks; t++) units += BitConverter.ToUInt64(read.Bytes, t * AsyncPfSchedulerGuest.TcbSize);
        return units;
    }
}
