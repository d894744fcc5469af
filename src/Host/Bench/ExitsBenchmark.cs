using Actorvisor.Hardware.Guests;
using Actorvisor.Hardware.Machines;
using Actorvisor.Hardware.Soft;

namespace Actorvisor.Host.Bench;

/// <summary>
/// `bench exits`: port-I/O exits per second through the runtime (SoftVcpu + DeviceBus + a device) against a
/// bare Unicorn OUT-hook loop, both measured in this run on this machine. Best of several rounds each.
/// </summary>
public static class ExitsBenchmark
{
    /// <summary>Runs the benchmark and returns its figures in print order.</summary>
    public static IReadOnlyList<(string Key, string Value)> Run(int exits, int rounds)
    {
        using var accelerator = new SoftAccelerator();
        double bestRuntime = 0, bestRaw = 0;
        for (int round = 0; round < rounds; round++)
        {
            bestRuntime = Math.Max(bestRuntime, MeasureRuntime(accelerator, exits));
            bestRaw = Math.Max(bestRaw, SoftRawExitLoop.Measure(exits));
        }
        return
        [
            ("exits.count", exits.ToString()),
            ("exits.rounds", rounds.ToString()),
            ("exits.runtime_per_s", bestRuntime.ToString("0")),
            ("exits.raw_per_s", bestRaw.ToString("0")),
            ("exits.cost_ratio", (bestRaw / bestRuntime).ToString("0.000")),
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
