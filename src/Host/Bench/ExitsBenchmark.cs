using System.Globalization;
using Actorvisor.Hardware.Guests;
using Actorvisor.Hardware.Machines;
using Actorvisor.Hardware.Soft;

namespace Actorvisor.Host.Bench;

/// <summary>
/// `bench exits`: port-I/O exits per second through the runtime (SoftVcpu + DeviceBus + a device) against a
/// bare Unicorn OUT-hook loop, both measured in this run on this machine: one unmeasured round of each first
/// (JIT, Unicorn's translation of the loop), then alternated rounds; the median of the rounds with min and max.
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
        MeasureRuntime(accelerator, exits);
        SoftRawExitLoop.Measure(exits);
        for (int round = 0; round < rounds; round++)
        {
            double a, b;
            if (round % 2 == 0)
            {
                a = MeasureRuntime(accelerator, exits);
                b = SoftRawExitLoop.Measure(exits);
            }
            else
            {
                b = SoftRawExitLoop.Measure(exits);
                a = MeasureRuntime(accelerator, exits);
            }
            runtime.Add(a);
            raw.Add(b);
            ratio.Add(b / a);
            log.WriteLine($"exits: round {round}: runtime {a:0} /s, raw {b:0} /s");
        }
        return
        [
            ("exits.count", exits.ToString(CultureInfo.InvariantCulture)),
            ("exits.rounds", rounds.ToString(CultureInfo.InvariantCulture)),
            .. runtime.Figures(),
            .. raw.Figures(),
            .. ratio.Figures(),
        ];
    }

    private static double MeasureRuntime(SoftAccelerator accelerator, int exits)
    {
        using var machine = Machine.Create(accelerator, new MachineSpec { Image = GuestLibrary.PortIoLoop(exits) });
        var counter = new CountingPortDevice();
        machine.Bus.RegisterPorts(GuestLibrary.PortIoLoopPort, 1, counter);
        var result = machine.Run(TimeSpan.FromMinutes(5));
        if (!result.Succeeded || counter.Writes != exits)
            throw new InvalidOperationException($"benchmark guest did not complete: {result}; {counter.Writes} of {exits} exits seen");
        return exits / result.Elapsed.TotalSeconds;
    }
}
