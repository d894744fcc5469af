using System.Globalization;
using Actorvisor.Hardware.Guests;
using Actorvisor.Hardware.Machines;
using Actorvisor.Hardware.Soft;

namespace Actorvisor.Host.Bench;

/// <summary>
/// `bench exits`: port-I/O exits per second through the runtime (SoftVcpu + DeviceBus + a device) against a
/// bare Unicorn OUT-hook loop, both measured in this run on this machine: one unmeasured round of each first
/// (JIT, Unicorn's translation of the loop), then alternated rounds; the median of the rounds with min and max.
/// The rates are wall clock; <c>exits.cost_ratio</c> compares the process's CPU time per exit of the two sides
/// (only the one guest thread runs during either), because on a loaded machine a 0.3 s wall-clock sample is
/// preempted at random and the wall-clock ratio (<c>exits.cost_ratio_wall</c>) swings several-fold.
/// </summary>
public static class ExitsBenchmark
{
    /// <summary>Runs the benchmark and returns its figures in print order; the value of every round goes to <paramref name="log"/>.</summary>
    public static IReadOnlyList<(string Key, string Value)> Run(int exits, int rounds, TextWriter log)
    {
        using var accelerator = new SoftAccelerator();
        var runtime = new RoundSamples("exits.runtime_per_s", "0");
        var raw = new RoundSamples("exits.raw_per_s", "0");
        var ratio = new RoundSamples("exits.cost_ratio", "0.000");
        var ratioWall = new RoundSamples("exits.cost_ratio_wall", "0.000");
        MeasureRuntime(accelerator, exits);
        SoftRawExitLoop.Measure(exits);
        for (int round = 0; round < rounds; round++)
        {
            (double Rate, TimeSpan Cpu) a, b;
            if (round % 2 == 0)
            {
                a = WithCpuTime(() => MeasureRuntime(accelerator, exits));
                b = WithCpuTime(() => SoftRawExitLoop.Measure(exits));
            }
            else
            {
                b = WithCpuTime(() => SoftRawExitLoop.Measure(exits));
                a = WithCpuTime(() => MeasureRuntime(accelerator, exits));
            }
            runtime.Add(a.Rate);
            raw.Add(b.Rate);
            ratio.Add(a.Cpu / b.Cpu);
            ratioWall.Add(b.Rate / a.Rate);
            log.WriteLine($"exits: round {round}: runtime {a.Rate:0} /s ({a.Cpu.TotalMilliseconds:0} ms CPU), raw {b.Rate:0} /s ({b.Cpu.TotalMilliseconds:0} ms CPU)");
        }
        return
        [
            ("exits.count", exits.ToString(CultureInfo.InvariantCulture)),
            ("exits.rounds", rounds.ToString(CultureInfo.InvariantCulture)),
            .. runtime.Figures(),
            .. raw.Figures(),
            .. ratio.Figures(),
            .. ratioWall.Figures(),
        ];
    }

    // The process's CPU time (all threads) spent in measure.
    internal static (double Rate, TimeSpan Cpu) WithCpuTime(Func<double> measure)
    {
        var before = Environment.CpuUsage.TotalTime;
        double rate = measure();
        return (rate, Environment.CpuUsage.TotalTime - before);
    }

    /// <summary>One run of the port-I/O loop guest through the runtime; exits per second. <paramref name="countExitsAs"/>: see <see cref="MachineSpec.CountExitsAs"/>.</summary>
    internal static double MeasureRuntime(SoftAccelerator accelerator, int exits, string? countExitsAs = null)
    {
        using var machine = Machine.Create(accelerator, new MachineSpec { Image = GuestLibrary.PortIoLoop(exits), CountExitsAs = countExitsAs });
        var counter = new CountingPortDevice();
        machine.Bus.RegisterPorts(GuestLibrary.PortIoLoopPort, 1, counter);
        var result = machine.Run(TimeSpan.FromMinutes(5));
        if (!result.Succeeded || counter.Writes != exits)
            throw new InvalidOperationException($"benchmark guest did not complete: {result}; {counter.Writes} of {exits} exits seen");
        return exits / result.Elapsed.TotalSeconds;
    }
}
