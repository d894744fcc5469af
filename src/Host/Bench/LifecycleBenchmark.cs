using System.Diagnostics;
using Actorvisor.Actors.Registry;
using Actorvisor.Actors.Runtime;
using Actorvisor.Actors.Vcpu;
using Actorvisor.Actors.Vm;
using Actorvisor.Hardware.Guests;
using Actorvisor.Hardware.Machines;
using Actorvisor.Hardware.Soft;
using Akka.Actor;

namespace Actorvisor.Host.Bench;

/// <summary>
/// `bench lifecycle`: VM create+start+destroy per second through the actor tree on the software accelerator,
/// next to the same cycle done directly on the hardware layer (Machine.Create + Run + Dispose); runtime memory
/// per idle VM (excluding guest RAM); and the pause/resume round trip through a VcpuActor next to the same two
/// Asks answered by an actor that does nothing. Both sides of each comparison are warmed up with one full
/// unmeasured round, then run the same counts in alternated rounds; every figure is the median of the rounds,
/// with its min and max. The per-step times of both cycles say where a cycle's time goes.
/// </summary>
public static class LifecycleBenchmark
{
    private const ulong TinyRam = 1UL << 20;
    private static readonly TimeSpan AskTimeout = TimeSpan.FromSeconds(10);

    /// <summary>Runs the benchmark and returns its figures in print order; the value of every round goes to <paramref name="log"/>.</summary>
    public static async Task<IReadOnlyList<(string Key, string Value)>> RunAsync(int vms, int idleVms, int roundTrips, int rounds, TextWriter log)
    {
        using var accelerator = new SoftAccelerator();
        await using var runtime = ActorvisorRuntime.Start(new NodeCapacity(4096, 1UL << 40));

        var actors = new CycleSamples("lifecycle.vms_per_s", "lifecycle.cycle", "create", "start", "run", "destroy");
        var raw = new CycleSamples("lifecycle.raw_vms_per_s", "lifecycle.raw_cycle", "create", "run", "dispose");
        var ratio = new RoundSamples("lifecycle.actor_cost_ratio", "0.000");
        await MeasureCyclesAsync(runtime, accelerator, vms, null);
        MeasureRaw(accelerator, vms, null);
        for (int round = 0; round < rounds; round++)
        {
            // Alternated, and each side first in every other round, so a change in the machine's load hits both alike.
            double a, r;
            var gcBefore = GcCounts();
            if (round % 2 == 0)
            {
                r = MeasureRaw(accelerator, vms, raw);
                a = await MeasureCyclesAsync(runtime, accelerator, vms, actors);
            }
            else
            {
                a = await MeasureCyclesAsync(runtime, accelerator, vms, actors);
                r = MeasureRaw(accelerator, vms, raw);
            }
            ratio.Add(r / a);
            var gcAfter = GcCounts();
            log.WriteLine($"lifecycle: round {round}: {a:0.0} VMs/s through the actors, {r:0.0} raw; garbage collections (gen0/1/2) " +
                          $"{gcAfter.Gen0 - gcBefore.Gen0}/{gcAfter.Gen1 - gcBefore.Gen1}/{gcAfter.Gen2 - gcBefore.Gen2}");
        }

        var idle = new RoundSamples("lifecycle.bytes_per_idle_vm", "0");
        for (int round = 0; round < rounds; round++) idle.Add(await MeasureIdleBytesAsync(runtime, accelerator, idleVms));

        var (vcpu, echo) = await MeasurePauseResumeAsync(runtime, accelerator, roundTrips, rounds, log);

        var figures = new List<(string, string)>
        {
            ("lifecycle.vms", vms.ToString()),
            ("lifecycle.rounds", rounds.ToString()),
        };
        figures.AddRange(actors.Rate.Figures());
        figures.AddRange(raw.Rate.Figures());
        figures.AddRange(ratio.Figures());
        figures.AddRange(actors.StepFigures());
        figures.AddRange(raw.StepFigures());
        figures.AddRange(idle.Figures());
        figures.AddRange(vcpu.Figures());
        figures.AddRange(echo.Figures());
        return figures;
    }

    private static MachineSpec Tiny() => new() { Image = GuestLibrary.ExitWith(0), MemoryBytes = TinyRam };

    // Returns VMs per second; records the round in samples (null: a warm-up round).
    private static double MeasureRaw(SoftAccelerator accelerator, int count, CycleSamples? samples)
    {
        var steps = new double[3];
        var clock = Stopwatch.StartNew();
        for (int i = 0; i < count; i++)
        {
            long t0 = Stopwatch.GetTimestamp();
            var machine = Machine.Create(accelerator, Tiny());
            long t1 = Stopwatch.GetTimestamp();
            MachineResult result;
            try
            {
                result = machine.Run(TimeSpan.FromSeconds(30));
            }
            finally
            {
                long t2 = Stopwatch.GetTimestamp();
                machine.Dispose();
                long t3 = Stopwatch.GetTimestamp();
                steps[0] += Micros(t0, t1);
                steps[1] += Micros(t1, t2);
                steps[2] += Micros(t2, t3);
            }
            if (!result.Succeeded) throw new InvalidOperationException($"baseline guest failed: {result}");
        }
        double rate = count / clock.Elapsed.TotalSeconds;
        samples?.Add(rate, steps, count);
        return rate;
    }

    private static async Task<double> MeasureCyclesAsync(ActorvisorRuntime runtime, SoftAccelerator accelerator, int count, CycleSamples? samples)
    {
        var steps = new double[4];
        var clock = Stopwatch.StartNew();
        for (int i = 0; i < count; i++)
        {
            string name = $"cycle-{i}";
            long t0 = Stopwatch.GetTimestamp();
            var session = await runtime.CreateVmAsync(MachineVm.Spec(name, accelerator, Tiny()));
            long t1 = Stopwatch.GetTimestamp();
            await session.StartAsync();
            long t2 = Stopwatch.GetTimestamp();
            var outcome = await session.Ended.WaitAsync(TimeSpan.FromSeconds(30));
            long t3 = Stopwatch.GetTimestamp();
            if (outcome is not VmOutcome.Exited { ResultCode: 0 }) throw new InvalidOperationException($"VM {name}: {outcome}");
            await session.DestroyAsync();
            long t4 = Stopwatch.GetTimestamp();
            steps[0] += Micros(t0, t1);
            steps[1] += Micros(t1, t2);
            steps[2] += Micros(t2, t3);
            steps[3] += Micros(t3, t4);
        }
        double rate = count / clock.Elapsed.TotalSeconds;
        samples?.Add(rate, steps, count);
        return rate;
    }

    // Resident memory per created-but-not-started VM, minus the guest RAM those VMs have touched (the image
    // and boot tables), measured as the process's RSS outside the guest RAM mappings.
    private static async Task<double> MeasureIdleBytesAsync(ActorvisorRuntime runtime, SoftAccelerator accelerator, int count)
    {
        Settle();
        long before = ProcessMemory.ResidentBytes();
        var sessions = new List<VmSession>();
        long guestResident = 0;
        for (int i = 0; i < count; i++)
        {
            MachineParts? built = null;
            var spec = MachineVm.Spec($"idle-{i}", accelerator, Tiny(), m => { built = m; return []; });
            sessions.Add(await runtime.CreateVmAsync(spec));
            guestResident += ProcessMemory.ResidentBytesOf(built!.Memory.Address, built.Memory.Size);
        }
        Settle();
        long after = ProcessMemory.ResidentBytes();
        foreach (var s in sessions) await s.DestroyAsync();
        return Math.Max(0, after - before - guestResident) / (double)count;
    }

    // The vCPU round trip (Ask Pause, then Ask Resume, of a spinning guest's VcpuActor) against the same two Asks
    // to an actor that answers at once, with the guest paused meanwhile so that both run on an otherwise idle VM.
    private static async Task<(LatencySamples Vcpu, LatencySamples Echo)> MeasurePauseResumeAsync(
        ActorvisorRuntime runtime, SoftAccelerator accelerator, int roundTrips, int rounds, TextWriter log)
    {
        var session = await runtime.CreateVmAsync(MachineVm.Spec("spin", accelerator, new MachineSpec { Image = GuestLibrary.Spin(), MemoryBytes = TinyRam }));
        await session.StartAsync();
        var vcpuActor = await runtime.System.ActorSelection(session.Vm.Path / "vcpu-0").ResolveOne(AskTimeout);
        var echoActor = runtime.System.ActorOf(Props.Create(() => new EchoActor()), "bench-echo");
        var vcpu = new LatencySamples("lifecycle.pause_resume", "pause", "resume");
        var echo = new LatencySamples("lifecycle.ask_pair", "first", "second");
        try
        {
            await VcpuRoundTripsAsync(vcpuActor, roundTrips, null);
            await EchoRoundTripsAsync(echoActor, roundTrips, null);
            for (int round = 0; round < rounds; round++)
            {
                if (round % 2 == 0)
                {
                    await VcpuRoundTripsAsync(vcpuActor, roundTrips, vcpu);
                    await EchoRoundTripsAsync(echoActor, roundTrips, echo);
                }
                else
                {
                    await EchoRoundTripsAsync(echoActor, roundTrips, echo);
                    await VcpuRoundTripsAsync(vcpuActor, roundTrips, vcpu);
                }
                log.WriteLine($"lifecycle: round {round}: pause/resume p50 {vcpu.P50.Values[^1]:0.0} us p99 {vcpu.P99.Values[^1]:0.0} us; " +
                              $"two echo Asks p50 {echo.P50.Values[^1]:0.0} us p99 {echo.P99.Values[^1]:0.0} us");
            }
        }
        finally
        {
            runtime.System.Stop(echoActor);
            await session.DestroyAsync();
        }
        return (vcpu, echo);
    }

    private static async Task VcpuRoundTripsAsync(IActorRef vcpu, int count, LatencySamples? samples)
    {
        await AskPairsAsync(count, samples,
            () => vcpu.Ask<VcpuPaused>(PauseVcpu.Instance, AskTimeout), () => vcpu.Ask<VcpuResumed>(ResumeVcpu.Instance, AskTimeout));
        // Leave the guest parked between rounds, so that the echo rounds run beside an idle vCPU.
        await vcpu.Ask<VcpuPaused>(PauseVcpu.Instance, AskTimeout);
    }

    private static Task EchoRoundTripsAsync(IActorRef echo, int count, LatencySamples? samples) =>
        AskPairsAsync(count, samples,
            () => echo.Ask<EchoReply>(EchoRequest.Instance, AskTimeout), () => echo.Ask<EchoReply>(EchoRequest.Instance, AskTimeout));

    // Times count pairs of Asks, the whole pair and each half; both measured sides go through here, so they pay
    // the same overhead.
    private static async Task AskPairsAsync(int count, LatencySamples? samples, Func<Task> first, Func<Task> second)
    {
        var whole = new double[count];
        var firsts = new double[count];
        var seconds = new double[count];
        for (int i = 0; i < count; i++)
        {
            long t0 = Stopwatch.GetTimestamp();
            await first();
            long t1 = Stopwatch.GetTimestamp();
            await second();
            long t2 = Stopwatch.GetTimestamp();
            (whole[i], firsts[i], seconds[i]) = (Micros(t0, t2), Micros(t0, t1), Micros(t1, t2));
        }
        samples?.Add(whole, firsts, seconds);
    }

    private static (int Gen0, int Gen1, int Gen2) GcCounts() => (GC.CollectionCount(0), GC.CollectionCount(1), GC.CollectionCount(2));

    private static double Micros(long from, long to) => (to - from) * 1e6 / Stopwatch.Frequency;

    private static void Settle()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
    }

    /// <summary>The rate of one kind of cycle per round, and the mean time per VM of each of its steps.</summary>
    private sealed class CycleSamples(string rateKey, string stepPrefix, params string[] stepNames)
    {
        private readonly RoundSamples[] _steps = stepNames.Select(s => new RoundSamples($"{stepPrefix}_{s}_us", "0.0")).ToArray();

        public RoundSamples Rate { get; } = new(rateKey, "0.0");

        public void Add(double rate, double[] stepMicros, int count)
        {
            Rate.Add(rate);
            for (int s = 0; s < _steps.Length; s++) _steps[s].Add(stepMicros[s] / count);
        }

        public IEnumerable<(string Key, string Value)> StepFigures() => _steps.SelectMany(s => s.Figures());
    }

    /// <summary>Per round: the p50 and p99 of a two-Ask round trip, and the p99 of each of its two halves.</summary>
    private sealed class LatencySamples(string prefix, string firstHalf, string secondHalf)
    {
        public RoundSamples P50 { get; } = new($"{prefix}_p50_us", "0.0");
        public RoundSamples P99 { get; } = new($"{prefix}_p99_us", "0.0");
        private readonly RoundSamples _firstP99 = new($"{prefix}_{firstHalf}_p99_us", "0.0");
        private readonly RoundSamples _secondP99 = new($"{prefix}_{secondHalf}_p99_us", "0.0");

        public void Add(double[] whole, double[] first, double[] second)
        {
            Array.Sort(whole);
            Array.Sort(first);
            Array.Sort(second);
            P50.Add(Percentiles.Of(whole, 0.50));
            P99.Add(Percentiles.Of(whole, 0.99));
            _firstP99.Add(Percentiles.Of(first, 0.99));
            _secondP99.Add(Percentiles.Of(second, 0.99));
        }

        public IEnumerable<(string Key, string Value)> Figures() =>
            P50.Figures().Concat(P99.Figures()).Concat(_firstP99.Figures()).Concat(_secondP99.Figures());
    }

    private sealed record EchoRequest
    {
        public static readonly EchoRequest Instance = new();
    }

    private sealed record EchoReply
    {
        public static readonly EchoReply Instance = new();
    }

    /// <summary>The baseline's far end: answers every request at once, on the default dispatcher like a VcpuActor.</summary>
    private sealed class EchoActor : ReceiveActor
    {
        public EchoActor() => Receive<EchoRequest>(_ => Sender.Tell(EchoReply.Instance));
    }
}
