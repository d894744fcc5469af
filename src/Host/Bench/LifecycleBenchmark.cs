using System.Diagnostics;
using Actorvisor.Actors.Node;
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
/// next to the same cycle done directly on the hardware layer (Machine.Create + Run + Dispose) in the same run;
/// runtime memory per idle VM (excluding guest RAM); and the pause/resume round trip through a VcpuActor.
/// </summary>
public static class LifecycleBenchmark
{
    private const ulong TinyRam = 1UL << 20;

    /// <summary>Runs the benchmark and returns its figures in print order.</summary>
    public static async Task<IReadOnlyList<(string Key, string Value)>> RunAsync(int vms, int idleVms, int roundTrips)
    {
        using var accelerator = new SoftAccelerator();
        var figures = new List<(string, string)>();
        double raw = MeasureRaw(accelerator, Math.Max(vms / 4, 10));
        await using var runtime = ActorvisorRuntime.Start(new NodeCapacity(4096, 1UL << 40));
        double actors = await MeasureCyclesAsync(runtime, accelerator, vms);
        figures.Add(("lifecycle.vms", vms.ToString()));
        figures.Add(("lifecycle.vms_per_s", actors.ToString("0.0")));
        figures.Add(("lifecycle.raw_vms_per_s", raw.ToString("0.0")));
        figures.Add(("lifecycle.actor_cost_ratio", (raw / actors).ToString("0.000")));
        figures.Add(("lifecycle.bytes_per_idle_vm", (await MeasureIdleBytesAsync(runtime, accelerator, idleVms)).ToString("0")));
        var (p50, p99) = await MeasurePauseResumeAsync(runtime, accelerator, roundTrips);
        figures.Add(("lifecycle.pause_resume_p50_us", p50.ToString("0.0")));
        figures.Add(("lifecycle.pause_resume_p99_us", p99.ToString("0.0")));
        return figures;
    }

    private static MachineSpec Tiny() => new() { Image = GuestLibrary.ExitWith(0), MemoryBytes = TinyRam };

    private static double MeasureRaw(SoftAccelerator accelerator, int count)
    {
        var clock = Stopwatch.StartNew();
        for (int i = 0; i < count; i++)
        {
            using var machine = Machine.Create(accelerator, Tiny());
            var result = machine.Run(TimeSpan.FromSeconds(30));
            if (!result.Succeeded) throw new InvalidOperationException($"baseline guest failed: {result}");
        }
        return count / clock.Elapsed.TotalSeconds;
    }

    private static async Task<double> MeasureCyclesAsync(ActorvisorRuntime runtime, SoftAccelerator accelerator, int count)
    {
        var clock = Stopwatch.StartNew();
        for (int i = 0; i < count; i++)
        {
            var session = await runtime.CreateVmAsync(MachineVm.Spec($"cycle-{i}", accelerator, Tiny()));
            await session.StartAsync();
            var outcome = await session.Ended.WaitAsync(TimeSpan.FromSeconds(30));
            if (outcome is not VmOutcome.Exited { ResultCode: 0 }) throw new InvalidOperationException($"VM cycle-{i}: {outcome}");
            await session.DestroyAsync();
        }
        return count / clock.Elapsed.TotalSeconds;
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

    private static async Task<(double P50, double P99)> MeasurePauseResumeAsync(ActorvisorRuntime runtime, SoftAccelerator accelerator, int roundTrips)
    {
        var session = await runtime.CreateVmAsync(MachineVm.Spec("spin", accelerator, new MachineSpec { Image = GuestLibrary.Spin(), MemoryBytes = TinyRam }));
        await session.StartAsync();
        var vcpu = await runtime.System.ActorSelection(session.Vm.Path / "vcpu-0").ResolveOne(TimeSpan.FromSeconds(10));
        var samples = new double[roundTrips];
        var timeout = TimeSpan.FromSeconds(10);
        for (int i = -roundTrips / 10; i < roundTrips; i++) // the first tenth warms up
        {
            long start = Stopwatch.GetTimestamp();
            await vcpu.Ask<VcpuPaused>(PauseVcpu.Instance, timeout);
            await vcpu.Ask<VcpuResumed>(ResumeVcpu.Instance, timeout);
            if (i >= 0) samples[i] = Stopwatch.GetElapsedTime(start).TotalMicroseconds;
        }
        await session.DestroyAsync();
        Array.Sort(samples);
        return (Percentile(samples, 0.50), Percentile(samples, 0.99));
    }

    private static double Percentile(double[] sorted, double p) => sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(p * sorted.Length) - 1)];

    private static void Settle()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
    }
}
