using Actorvisor.Actors.Registry;
using Actorvisor.Actors.Runtime;
using Actorvisor.Actors.Tests.AsyncPf;
using Actorvisor.Actors.Vm;
using Actorvisor.Hardware.Cgroups;
using Actorvisor.Hardware.Guests;
using Actorvisor.Hardware.Machines;
using Actorvisor.Hardware.Soft;
using Xunit.Abstractions;

namespace Actorvisor.Actors.Tests.Vm;

/// <summary>
/// Per-VM CPU limits: two spinning VMs whose vCPU threads sit in threaded cgroups with cpu.max 0.25 and 0.5 of a CPU
/// get CPU time in that proportion. Runs in the KVM harness's L1 (one CPU; its /init mounts cgroup2 with every
/// controller at /sys/fs/cgroup), on the software accelerator; this host is cgroup v1 hybrid, where it is skipped
/// with the KVM facts.
/// </summary>
public sealed class CpuLimitTests(ITestOutputHelper output)
{
    // The issue's example is 0.25 and 0.5 of a core; the harness's L1 has ONE emulated CPU, and in a full CI run about a
    // third of it goes elsewhere (0.25 + 0.39 was all the two VMs got: ratio 0.705, a failure of the machine, not of the
    // limits). The same proportion at half the size leaves the L1 room to give both VMs their whole cpu.max.
    private const double QuarterLimit = 0.125, HalfLimit = 0.25;

    // CPU time that shows a guest spinning in its group rather than starting up.
    private static readonly TimeSpan Spun = TimeSpan.FromMilliseconds(50);

    private static readonly MachineSpec Spinner = new() { Image = GuestLibrary.Spin(), MemoryBytes = 2UL << 20 };

    [KvmOnlyFact]
    public async Task Two_spinning_vms_limited_to_a_quarter_and_a_half_of_a_cpu_get_cpu_time_in_that_proportion()
    {
        var groups = CpuLimitCgroups.TryOpen(out var unavailable);
        Assert.True(groups is not null, $"cgroup v2 with the cpu controller inside the harness: {unavailable}");
        await using var runtime = ActorvisorRuntime.Start(new NodeCapacity(4, 1UL << 30), "cpu-limits");
        using var soft = new SoftAccelerator();
        CpuLimitCgroup? quarter = null, half = null;
        var a = await runtime.CreateVmAsync(MachineVm.Spec("quarter", soft, Spinner, vcpuThreads: () => quarter = groups!.Create("quarter", QuarterLimit)));
        var b = await runtime.CreateVmAsync(MachineVm.Spec("half", soft, Spinner, vcpuThreads: () => half = groups!.Create("half", HalfLimit)));
        Assert.NotNull(quarter);
        Assert.NotNull(half);
        Assert.Equal("12500 100000", File.ReadAllText(Path.Combine(quarter.Path, "cpu.max")).Trim());
        Assert.Equal("25000 100000", File.ReadAllText(Path.Combine(half.Path, "cpu.max")).Trim());
        // The L1 has one emulated CPU that the test host's own threads (the runtime's scheduler, the JIT, the GC) share
        // with the VMs: the first run without this measured quarter 0.249 and half only 0.39 of a CPU (ratio 0.635),
        // the other 36% going to those threads at equal weight. With the groups weighted above them the VMs get the CPU
        // up to their cpu.max, which is what is under test.
        foreach (var g in new[] { quarter, half }) File.WriteAllText(Path.Combine(g.Path, "cpu.weight"), "10000");
        // The vCPU threads joined their groups as they started (parked), before the guests run.
        Assert.Single(quarter.Threads);
        Assert.Single(half.Threads);
        await a.StartAsync();
        await b.StartAsync();

        // Both guests spinning in their groups (an event: a loaded CI run once took longer than a fixed 1 s warm-up to get
        // the second one going, and measured the first alone), then a measurement window of 40 cpu.max periods.
        var spinning = System.Diagnostics.Stopwatch.StartNew();
        while (!(quarter.Usage > Spun && half.Usage > Spun))
        {
            Assert.True(spinning.Elapsed < TimeSpan.FromMinutes(5), $"not both spinning after 5 min: quarter {quarter.Usage.TotalMilliseconds:F0} ms, half {half.Usage.TotalMilliseconds:F0} ms");
            await Task.Delay(20);
        }
        var (q0, h0) = (quarter.Usage, half.Usage);
        var (qThrottled0, hThrottled0) = (Throttling(quarter), Throttling(half));
        var clock = System.Diagnostics.Stopwatch.StartNew();
        await Task.Delay(TimeSpan.FromSeconds(4));
        var (q, h) = (quarter.Usage - q0, half.Usage - h0);
        var elapsed = clock.Elapsed;
        var (qThrottled, hThrottled) = (Throttling(quarter) - qThrottled0, Throttling(half) - hThrottled0);
        double ratio = q / h;
        foreach (var g in new[] { quarter, half }) output.WriteLine($"{g.Path}: {File.ReadAllText(Path.Combine(g.Path, "cpu.stat")).ReplaceLineEndings(", ")}");
        output.WriteLine($"over {elapsed.TotalSeconds:F2} s: quarter {q.TotalMilliseconds:F0} ms ({q / elapsed:P1} of a CPU, throttled in {qThrottled}), " +
            $"half {h.TotalMilliseconds:F0} ms ({h / elapsed:P1}, throttled in {hThrottled}); ratio {ratio:F3}");
        // Each stays under its limit whatever else the machine does (a period's quota of slack for the window's edges).
        Assert.True(q / elapsed <= QuarterLimit * 1.2, $"quarter used {q / elapsed:P1} of a CPU");
        Assert.True(h / elapsed <= HalfLimit * 1.2, $"half used {h / elapsed:P1} of a CPU");
        // The proportion is the limits' only while both groups run into them: cpu.max is a cap, not a share. An L1 starved
        // by its host (a CI run at load 150 gave both VMs together a fraction of 0.375 of a CPU) divides what it has by
        // weight, and the cap never binds; then there is no proportion to judge. Bound in most periods, it must hold.
        if (qThrottled.Share >= 0.5 && hThrottled.Share >= 0.5)
            Assert.True(ratio is >= 0.4 and <= 0.6, $"quarter/half CPU time {ratio:F3} is not 0.5 within 20% (quarter {q.TotalMilliseconds:F0} ms, half {h.TotalMilliseconds:F0} ms)");
        else
            output.WriteLine($"the limits did not bind in most periods (quarter {qThrottled}, half {hThrottled}): the L1 had too little CPU to judge the proportion");

        await a.DestroyAsync();
        await b.DestroyAsync();
        // The teardown removed both cgroups.
        Assert.False(Directory.Exists(quarter.Path), quarter.Path);
        Assert.False(Directory.Exists(half.Path), half.Path);
    }

    /// <summary>The cpu.max periods a group has seen and in how many it ran into its quota.</summary>
    private readonly record struct Periods(long Total, long Throttled)
    {
        public double Share => Total == 0 ? 0 : (double)Throttled / Total;
        public static Periods operator -(Periods a, Periods b) => new(a.Total - b.Total, a.Throttled - b.Throttled);
        public override string ToString() => $"{Throttled} of {Total} periods";
    }

    private static Periods Throttling(CpuLimitCgroup group) => new(group.Periods, group.ThrottledPeriods);
}
