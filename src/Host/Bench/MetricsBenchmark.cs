using System.Diagnostics.Metrics;
using System.Globalization;
using Actorvisor.Hardware.Metrics;
using Actorvisor.Hardware.Soft;

namespace Actorvisor.Host.Bench;

/// <summary>
/// `bench metrics`: what metrics cost on the hot path. The port-I/O loop guest of `bench exits` runs through the
/// runtime with its exits counted (<see cref="VcpuExitCounters"/>) while a listener collects the
/// Actorvisor.Hardware instruments every 100 ms (a scrape far more frequent than Prometheus would make), and
/// without either; one unmeasured round of each, then alternated rounds, median with min and max.
/// <c>metrics.exits_ratio</c> is the median of the per-round ratios of the wall-clock rates (on / off; goal at
/// least 0.95); <c>metrics.exits_cost_ratio</c> compares the process CPU time per exit (off / on), steadier on a
/// loaded machine.
/// </summary>
public static class MetricsBenchmark
{
    /// <summary>Runs the benchmark and returns its figures in print order; every round goes to <paramref name="log"/>.</summary>
    public static IReadOnlyList<(string Key, string Value)> Run(int exits, int rounds, TextWriter log)
    {
        using var accelerator = new SoftAccelerator();
        var off = new RoundSamples("exits.runtime_per_s", "0");
        var on = new RoundSamples("exits.runtime_metrics_per_s", "0");
        var ratio = new RoundSamples("metrics.exits_ratio", "0.000");
        var cost = new RoundSamples("metrics.exits_cost_ratio", "0.000");
        long collections = 0;
        ExitsBenchmark.MeasureRuntime(accelerator, exits);
        MeasureWithMetrics(accelerator, exits, ref collections);
        for (int round = 0; round < rounds; round++)
        {
            (double Rate, TimeSpan Cpu) a, b;
            if (round % 2 == 0)
            {
                a = ExitsBenchmark.WithCpuTime(() => ExitsBenchmark.MeasureRuntime(accelerator, exits));
                b = WithMetrics(accelerator, exits, ref collections);
            }
            else
            {
                b = WithMetrics(accelerator, exits, ref collections);
                a = ExitsBenchmark.WithCpuTime(() => ExitsBenchmark.MeasureRuntime(accelerator, exits));
            }
            off.Add(a.Rate);
            on.Add(b.Rate);
            ratio.Add(b.Rate / a.Rate);
            cost.Add(a.Cpu / b.Cpu);
            log.WriteLine($"metrics: round {round}: without {a.Rate:0} /s ({a.Cpu.TotalMilliseconds:0} ms CPU), with {b.Rate:0} /s ({b.Cpu.TotalMilliseconds:0} ms CPU)");
        }
        return
        [
            ("exits.count", exits.ToString(CultureInfo.InvariantCulture)),
            ("exits.rounds", rounds.ToString(CultureInfo.InvariantCulture)),
            .. off.Figures(),
            .. on.Figures(),
            .. ratio.Figures(),
            .. cost.Figures(),
            ("metrics.collections", collections.ToString(CultureInfo.InvariantCulture)),
        ];
    }

    private static (double Rate, TimeSpan Cpu) WithMetrics(SoftAccelerator accelerator, int exits, ref long collections)
    {
        long seen = 0;
        var result = ExitsBenchmark.WithCpuTime(() => MeasureWithMetrics(accelerator, exits, ref seen));
        collections += seen;
        return result;
    }

    // One run with exit counting on and a listener collecting the hardware instruments every 100 ms; checks the
    // collected port I/O count covers the guest's exits, so the measured side really counted.
    private static double MeasureWithMetrics(SoftAccelerator accelerator, int exits, ref long collections)
    {
        string vm = $"bench-{Guid.NewGuid():N}";
        long portIo = 0;
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == HardwareMeter.Name) l.EnableMeasurementEvents(instrument);
        };
        listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
        {
            if (instrument.Name != "actorvisor.vcpu.exits") return;
            bool mine = false, port = false;
            foreach (var tag in tags)
            {
                if (tag.Key == "vm" && Equals(tag.Value, vm)) mine = true;
                if (tag.Key == "kind" && Equals(tag.Value, "port_io")) port = true;
            }
            if (mine && port) Volatile.Write(ref portIo, value);
        });
        listener.Start();
        long count = 0;
        using var stop = new CancellationTokenSource();
        var collector = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                listener.RecordObservableInstruments();
                Interlocked.Increment(ref count);
                try
                {
                    await Task.Delay(100, stop.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                }
            }
        });
        double rate;
        try
        {
            rate = ExitsBenchmark.MeasureRuntime(accelerator, exits, vm);
        }
        finally
        {
            stop.Cancel();
            collector.GetAwaiter().GetResult();
        }
        // The vCPU's counters are retained after the run: one last collection sees its final count.
        listener.RecordObservableInstruments();
        collections += Interlocked.Read(ref count) + 1;
        if (Volatile.Read(ref portIo) < exits)
            throw new InvalidOperationException($"the metrics listener collected {portIo} port I/O exits of {vm}, fewer than the guest's {exits}");
        return rate;
    }
}
