using System.Diagnostics;
using System.Globalization;
using Actorvisor.Actors.AsyncPf;
using Actorvisor.Actors.Registry;
using Actorvisor.Actors.Runtime;
using Actorvisor.Actors.Vm;
using Actorvisor.Hardware.Lazy;
using Actorvisor.Hardware.Machines;
using Actorvisor.Hardware.Soft;
using Akka.Actor;

namespace Actorvisor.Host.Bench;

/// <summary>
/// `bench asyncpf`: (1) lazy fill throughput, pages per second installed with UFFDIO_COPY by the runtime's fill
/// worker (FillLazyMemory through the VmActor, timed from request to answer) against a minimal C loop doing the
/// same pread + UFFDIO_COPY per page, both on the same image file in this run; (2) a guest touching pages
/// sequentially across 2 vCPUs from a store with 1 ms latency, with async workers and readahead (default window
/// and limit) against the synchronous path only, both in this run. Each side is warmed up with one unmeasured run,
/// then the two alternate over the rounds; every figure is the median of the rounds with min and max. The vCPU
/// blocks on every page it touches on both sides, so <c>asyncpf.readahead_speedup</c> measures how much
/// readahead's parallel reads save, not a vCPU running on while its page is fetched. Runs on the software accelerator.
/// </summary>
public static class AsyncPfBenchmark
{
    /// <summary>Runs the benchmark and returns its figures in print order; progress and problems go to <paramref name="log"/>.</summary>
    public static IReadOnlyList<(string Key, string Value)> Run(int fillPages, int touchPages, double latencyMs, int rounds, TextWriter log) =>
        RunAsync(fillPages, touchPages, latencyMs, rounds, log).GetAwaiter().GetResult();

    private static async Task<IReadOnlyList<(string Key, string Value)>> RunAsync(int fillPages, int touchPages, double latencyMs, int rounds, TextWriter log)
    {
        var work = Directory.CreateTempSubdirectory("actorvisor-asyncpf-");
        try
        {
            int imagePages = Math.Max(fillPages, touchPages);
            var image = Path.Combine(work.FullName, "image.raw");
            var bytes = new byte[(long)imagePages * 4096];
            new Random(6).NextBytes(bytes);
            await File.WriteAllBytesAsync(image, bytes);

            var figures = new List<(string, string)>
            {
                ("asyncpf.fill_pages", Int(fillPages)),
                ("asyncpf.rounds", Int(rounds)),
            };
            using var accelerator = new SoftAccelerator();
            await using var runtime = ActorvisorRuntime.Start(new NodeCapacity(16, 64UL << 30), "asyncpf-bench", requestTimeout: TimeSpan.FromMinutes(5));

            // (1) fill: one unmeasured fill of each first (the JIT compiles the fill path to its optimized tier,
            // the page cache holds the image for both), then alternated rounds.
            await MeasureFillAsync(runtime, accelerator, image, bytes, fillPages, round: -1);
            string? cProgram = AsyncPfCFill.Build(work.FullName, out var gccProblem);
            if (cProgram is null) log.WriteLine($"asyncpf: no C baseline: {gccProblem}");
            else AsyncPfCFill.Measure(cProgram, image, fillPages);
            var runtimeFill = new RoundSamples("asyncpf.fill_pages_per_s", "0");
            var cFill = new RoundSamples("asyncpf.c_pages_per_s", "0");
            var fillRatio = new RoundSamples("asyncpf.fill_over_c", "0.000");
            for (int r = 0; r < rounds; r++)
            {
                // Alternate the two, so that a change in the machine's load affects both alike.
                double rate = 0, c = 0;
                if (r % 2 == 0) rate = await MeasureFillAsync(runtime, accelerator, image, bytes, fillPages, r);
                if (cProgram is not null) c = AsyncPfCFill.Measure(cProgram, image, fillPages);
                if (r % 2 == 1) rate = await MeasureFillAsync(runtime, accelerator, image, bytes, fillPages, r);
                runtimeFill.Add(rate);
                if (cProgram is not null)
                {
                    cFill.Add(c);
                    fillRatio.Add(rate / c);
                }
                log.WriteLine($"asyncpf: fill round {r}: runtime {rate:0} pages/s, C {c:0} pages/s");
            }
            figures.AddRange(runtimeFill.Figures());
            if (cProgram is null)
            {
                figures.Add(("asyncpf.c_pages_per_s", "n/a"));
                figures.Add(("asyncpf.fill_over_c", "n/a"));
            }
            else
            {
                figures.AddRange(cFill.Figures());
                figures.AddRange(fillRatio.Figures());
            }

            // (2) sequential touches across 2 vCPUs, slow store: async workers + readahead vs synchronous only.
            // The vCPU still waits for every page it touches in both; what the async side gains is that readahead
            // has the next pages in flight while it waits (readahead parallelism), hence the name of the ratio.
            var latency = TimeSpan.FromMilliseconds(latencyMs);
            await MeasureTouchAsync(runtime, accelerator, image, bytes, touchPages, latency, AsyncPfOptions.Default, "async-warm-up");
            await MeasureTouchAsync(runtime, accelerator, image, bytes, touchPages, latency, AsyncPfOptions.SynchronousOnly, "sync-warm-up");
            var asyncSeconds = new RoundSamples("asyncpf.async_s", "0.000");
            var syncSeconds = new RoundSamples("asyncpf.sync_s", "0.000");
            var speedup = new RoundSamples("asyncpf.readahead_speedup", "0.0");
            var reports = new List<AsyncPfReport>();
            for (int r = 0; r < rounds; r++)
            {
                Task<(double Seconds, AsyncPfReport Report)> Async() =>
                    MeasureTouchAsync(runtime, accelerator, image, bytes, touchPages, latency, AsyncPfOptions.Default, $"async-{r}");
                Task<(double Seconds, AsyncPfReport Report)> Sync() =>
                    MeasureTouchAsync(runtime, accelerator, image, bytes, touchPages, latency, AsyncPfOptions.SynchronousOnly, $"sync-{r}");
                (double Seconds, AsyncPfReport Report) a, s;
                if (r % 2 == 0)
                {
                    a = await Async();
                    s = await Sync();
                }
                else
                {
                    s = await Sync();
                    a = await Async();
                }
                asyncSeconds.Add(a.Seconds);
                syncSeconds.Add(s.Seconds);
                speedup.Add(s.Seconds / a.Seconds);
                reports.Add(a.Report);
                log.WriteLine($"asyncpf: touch round {r}: async {a.Seconds:0.000} s, sync {s.Seconds:0.000} s");
            }
            // The counters of the async round whose time was the median.
            var asyncReport = reports[Enumerable.Range(0, rounds).OrderBy(i => asyncSeconds.Values[i]).ElementAt(rounds / 2)];
            figures.Add(("asyncpf.touch_pages", Int(touchPages)));
            figures.Add(("asyncpf.store_latency_ms", latencyMs.ToString("0.###", CultureInfo.InvariantCulture)));
            figures.Add(("asyncpf.limit", Int(AsyncPfOptions.Default.PerVcpuLimit)));
            figures.Add(("asyncpf.readahead_pages", Int(AsyncPfOptions.Default.ReadaheadPages)));
            figures.AddRange(syncSeconds.Figures());
            figures.AddRange(asyncSeconds.Figures());
            figures.AddRange(speedup.Figures());
            // What a read of the store really cost on the synchronous path (Task.Delay rounds up to the timer's tick).
            figures.Add(("asyncpf.sync_ms_per_fault", (syncSeconds.Median * 1000 / (touchPages / 2)).ToString("0.00", CultureInfo.InvariantCulture)));
            figures.Add(("asyncpf.async_faults", Int(asyncReport.Faults)));
            figures.Add(("asyncpf.async_sync_fallbacks", Int(asyncReport.SyncFallbacks)));
            figures.Add(("asyncpf.async_readahead", Int(asyncReport.Vcpus.Sum(v => v.Readahead))));
            figures.Add(("asyncpf.async_peak_outstanding", Int(asyncReport.Vcpus.Max(v => v.PeakOutstanding))));
            return figures;
        }
        finally
        {
            work.Delete(recursive: true);
        }
    }

    private static string Int(long value) => value.ToString(CultureInfo.InvariantCulture);

    // A VM that never runs: its lazy memory is filled through the VmActor while it is Created.
    private static async Task<double> MeasureFillAsync(ActorvisorRuntime runtime, SoftAccelerator accelerator, string image, byte[] bytes, int pages, int round)
    {
        using var store = FileBackingStore.Open(image);
        MachineParts? machine = null;
        var spec = MachineVm.Spec(round < 0 ? "fill-warm-up" : $"fill-{round}", accelerator, new MachineSpec
        {
            Image = AsyncPfGuest.SequentialToucher(1, 1),
            MemoryBytes = 4UL << 20,
            LazyMemory = new LazyMemorySpec(AsyncPfGuest.LazyBase, (ulong)pages * 4096, store),
        }, m =>
        {
            machine = m;
            return [];
        });
        var session = await runtime.CreateVmAsync(spec);
        var clock = Stopwatch.StartNew();
        var answer = await session.Vm.Ask<object>(FillLazyMemory.Instance, runtime.RequestTimeout);
        clock.Stop();
        try
        {
            if (answer is not LazyMemoryFilled { Completed: true } filled || filled.Installed != pages)
                throw new InvalidOperationException($"the fill did not complete: {answer}");
            var lazy = machine!.LazyMemory!;
            if (!lazy.Memory.Span(0, checked((int)lazy.Size)).SequenceEqual(bytes.AsSpan(0, checked((int)lazy.Size))))
                throw new InvalidOperationException("the filled memory differs from the image");
            return pages / clock.Elapsed.TotalSeconds;
        }
        finally
        {
            await session.DestroyAsync();
        }
    }

    private static async Task<(double Seconds, AsyncPfReport Report)> MeasureTouchAsync(ActorvisorRuntime runtime, SoftAccelerator accelerator, string image, byte[] bytes,
        int pages, TimeSpan latency, AsyncPfOptions options, string name)
    {
        const int vcpus = 2;
        int perVcpu = pages / vcpus;
        using var file = FileBackingStore.Open(image);
        var store = new SlowBackingStore(file, latency);
        var done = new AsyncPfDoneDevice(vcpus);
        MachineParts? machine = null;
        var spec = MachineVm.Spec($"touch-{name}", accelerator, new MachineSpec
        {
            Image = AsyncPfGuest.SequentialToucher(vcpus, perVcpu),
            MemoryBytes = 4UL << 20,
            LazyMemory = new LazyMemorySpec(AsyncPfGuest.LazyBase, (ulong)pages * 4096, store),
        }, m =>
        {
            machine = m;
            m.Bus.RegisterPorts(AsyncPfGuest.DonePort, 1, done);
            return [];
        }, options);
        var session = await runtime.CreateVmAsync(spec);
        try
        {
            var clock = Stopwatch.StartNew();
            await session.StartAsync();
            await done.AllDone.Task.WaitAsync(TimeSpan.FromMinutes(5));
            clock.Stop();
            for (int n = 0; n < vcpus; n++)
            {
                uint sum = machine!.Memory.Read<uint>(AsyncPfGuest.SumAddress(n));
                if (sum != AsyncPfGuest.ExpectedSum(bytes, n, perVcpu))
                    throw new InvalidOperationException($"{name}: vCPU {n} read wrong data (sum {sum:x8})");
            }
            var report = await session.Vm.Ask<AsyncPfReport>(GetAsyncPfCounters.Instance, runtime.RequestTimeout);
            return (clock.Elapsed.TotalSeconds, report);
        }
        finally
        {
            await session.DestroyAsync();
        }
    }
}
