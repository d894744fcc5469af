using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using Actorvisor.Actors.AsyncPf;
using Actorvisor.Actors.Registry;
using Actorvisor.Actors.Runtime;
using Actorvisor.Actors.Vm;
using Actorvisor.Hardware.Guests;
using Actorvisor.Hardware.Lazy;
using Actorvisor.Hardware.Machines;
using Actorvisor.Hardware.Soft;
using Actorvisor.Hardware.X86;
using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

namespace Actorvisor.Host.Bench;

/// <summary>
/// `bench asyncpf-destroy`: issue 6's destroy-under-load run at full size. Each VM's guest reads every even lazy
/// page forever from a 1 ms store while the odd pages, which only readahead asks for, never arrive; each VM is
/// destroyed through the node as soon as such a readahead work is in flight. After each destroy: no page fetch
/// running, no worker left, no install after the unmap, no store read started after it, the done list drained.
/// At the end: no unobserved task exception, no error logged by the actors. The rate is the median of timed rounds
/// (the count split evenly) after an untimed warm-up batch, with min and max; the warm-up VMs are checked too.
/// </summary>
public static class AsyncPfDestroyBenchmark
{
    private const ulong LazyBase = 0x4000_0000;
    private const int LazyPages = 4096;

    /// <summary>
    /// Destroys <paramref name="count"/> VMs in <paramref name="rounds"/> timed rounds (after an untimed warm-up batch),
    /// <paramref name="parallel"/> alive at a time; returns the figures in print order.
    /// </summary>
    public static IReadOnlyList<(string Key, string Value)> Run(int count, int parallel, int rounds, TextWriter log) =>
        RunAsync(count, parallel, rounds, log).GetAwaiter().GetResult();

    private static async Task<IReadOnlyList<(string Key, string Value)>> RunAsync(int count, int parallel, int rounds, TextWriter log)
    {
        long unobserved = 0;
        EventHandler<UnobservedTaskExceptionEventArgs> onUnobserved = (_, _) => Interlocked.Increment(ref unobserved);
        TaskScheduler.UnobservedTaskException += onUnobserved;
        try
        {
            using var accelerator = new SoftAccelerator();
            await using var runtime = ActorvisorRuntime.Start(new NodeCapacity(64, 64UL << 30), "asyncpf-destroy");
            var errors = new ErrorCounter();
            runtime.System.EventStream.Subscribe(runtime.System.ActorOf(Akka.Actor.Props.Create(() => new ErrorCounterActor(errors))), typeof(Akka.Event.Error));
            var guest = EvenPageScanner();
            var problems = new ConcurrentQueue<string>();
            long cancelled = 0, faults = 0, workersLeft = 0, writesAfterUnmap = 0, destroyed = 0;
            // Destroys `batch` VMs, `parallel` at a time; returns the seconds it took. Every VM's findings count.
            async Task<double> Batch(int batch, string prefix)
            {
                long started = 0;
                var clock = Stopwatch.StartNew();
                var lanes = Enumerable.Range(0, parallel).Select(lane => Task.Run(async () =>
                {
                    long i;
                    while ((i = Interlocked.Increment(ref started)) <= batch)
                    {
                        var r = await CycleAsync(runtime, accelerator, guest, $"{prefix}-{i}", heldReads: 1 + (int)(i * 13 % 24));
                        if (r.Problem is { } p) problems.Enqueue(p);
                        Interlocked.Add(ref cancelled, r.Cancelled);
                        Interlocked.Add(ref faults, r.Faults);
                        Interlocked.Add(ref workersLeft, r.WorkersLeft);
                        Interlocked.Add(ref writesAfterUnmap, r.WritesAfterUnmap);
                        if (Interlocked.Increment(ref destroyed) % 1000 == 0) log.WriteLine($"asyncpf-destroy: {Interlocked.Read(ref destroyed)} VMs destroyed");
                    }
                })).ToArray();
                await Task.WhenAll(lanes);
                return clock.Elapsed.TotalSeconds;
            }

            // A warm-up batch (checked like the rest, not timed), then the count split into rounds, each timed.
            int warmUp = Math.Min(count, parallel * 10);
            await Batch(warmUp, "warm-up");
            var rate = new RoundSamples("asyncpf.destroy.vms_per_s", "0.0");
            double seconds = 0;
            for (int round = 0; round < rounds; round++)
            {
                int batch = count / rounds + (round < count % rounds ? 1 : 0);
                if (batch == 0) continue;
                double s = await Batch(batch, $"destroy-r{round}");
                seconds += s;
                rate.Add(batch / s);
                log.WriteLine($"asyncpf-destroy: round {round}: {batch} VMs in {s:0.00} s");
            }
            GC.Collect();
            GC.WaitForPendingFinalizers();
            GC.Collect();
            foreach (var p in problems.Take(10)) log.WriteLine($"asyncpf-destroy: {p}");
            return
            [
                ("asyncpf.destroy.vms", count.ToString(CultureInfo.InvariantCulture)),
                ("asyncpf.destroy.parallel", parallel.ToString(CultureInfo.InvariantCulture)),
                ("asyncpf.destroy.warmup_vms", warmUp.ToString(CultureInfo.InvariantCulture)),
                ("asyncpf.destroy.rounds", rate.Values.Count.ToString(CultureInfo.InvariantCulture)),
                ("asyncpf.destroy.seconds", seconds.ToString("0.0", CultureInfo.InvariantCulture)),
                .. rate.Figures(),
                ("asyncpf.destroy.faults", faults.ToString(CultureInfo.InvariantCulture)),
                ("asyncpf.destroy.cancelled_works", cancelled.ToString(CultureInfo.InvariantCulture)),
                ("asyncpf.destroy.workers_left", workersLeft.ToString(CultureInfo.InvariantCulture)),
                ("asyncpf.destroy.writes_after_unmap", writesAfterUnmap.ToString(CultureInfo.InvariantCulture)),
                ("asyncpf.destroy.unobserved_exceptions", Interlocked.Read(ref unobserved).ToString(CultureInfo.InvariantCulture)),
                ("asyncpf.destroy.actor_errors", errors.Count.ToString(CultureInfo.InvariantCulture)),
                ("asyncpf.destroy.problems", (problems.Count + errors.Count + Interlocked.Read(ref unobserved)).ToString(CultureInfo.InvariantCulture)),
            ];
        }
        finally
        {
            TaskScheduler.UnobservedTaskException -= onUnobserved;
        }
    }

    private sealed record CycleResult(string? Problem, long Cancelled, long Faults, long WorkersLeft, long WritesAfterUnmap);

    // Destroyed once heldReads readahead works wait on odd pages: early, the vCPU is on its first fault; later,
    // readahead holds most of the limit and the vCPU's faults go synchronous.
    private static async Task<CycleResult> CycleAsync(ActorvisorRuntime runtime, SoftAccelerator accelerator, GuestImage guest, string name, int heldReads)
    {
        var store = new OddPagesNeverArriveStore(new SlowBackingStore(new ZeroBackingStore(useZeroPageIoctl: false), TimeSpan.FromMilliseconds(1)));
        var router = new AsyncPfRouter(store, 1, LazyBase);
        MachineParts? machine = null;
        var machineSpec = new MachineSpec
        {
            Image = guest,
            MemoryBytes = 4UL << 20,
            LazyMemory = new LazyMemorySpec(LazyBase, LazyPages * 4096UL, store),
        };
        var spec = new VmActorSpec(name, 1, machineSpec.MemoryBytes + machineSpec.LazyMemory.Size, context =>
        {
            var m = MachineParts.Build(accelerator, machineSpec, context.Console, router);
            router.Attach(m.LazyMemory!);
            store.Region = m.LazyMemory;
            machine = m;
            return MachineVm.Parts(m, null, router);
        }, "destroy-under-load guest");
        var session = await runtime.CreateVmAsync(spec);
        await session.StartAsync();
        await store.OddReadsStarted(heldReads).WaitAsync(TimeSpan.FromSeconds(30));
        var outcome = await session.DestroyAsync();

        var report = router.Report(name);
        var lazy = machine!.LazyMemory!;
        var vcpu = report.Vcpus[0];
        string? problem =
            outcome is not VmOutcome.StoppedOnRequest ? $"ended {outcome}" :
            report.RunningFetches != 0 ? $"{report.RunningFetches} page fetches still running" :
            report.LiveWorkers != 0 ? $"{report.LiveWorkers} workers left" :
            lazy.InstallsAfterUnmap != 0 ? $"{lazy.InstallsAfterUnmap} installs after the unmap" :
            store.ReadsAfterUnmap != 0 ? $"{store.ReadsAfterUnmap} store reads started after the unmap" :
            !lazy.Memory.IsDisposed ? "lazy memory still mapped" :
            vcpu.Outstanding != 0 ? $"{vcpu.Outstanding} works outstanding" :
            vcpu.Failed != 0 ? $"{vcpu.Failed} fetches failed" :
            vcpu.Cancelled == 0 ? "nothing was in flight at the destroy" : null;
        return new CycleResult(problem is null ? null : $"{name}: {problem}", vcpu.Cancelled, vcpu.Faults, report.LiveWorkers + report.RunningFetches, lazy.InstallsAfterUnmap);
    }

    // Protected mode: reads the first dword of every even lazy page, round and round.
    private static GuestImage EvenPageScanner()
    {
        const ulong origin = GuestLayout.ImageBase;
        var a = new Assembler(32);
        var restart = a.CreateLabel();
        var next = a.CreateLabel();
        a.Label(ref restart);
        a.mov(esi, (uint)LazyBase);
        a.mov(ecx, (uint)(LazyPages / 2));
        a.Label(ref next);
        a.add(edx, __dword_ptr[esi]);
        a.add(esi, 2 * 4096);
        a.dec(ecx);
        a.jnz(next);
        a.jmp(restart);
        var bytes = Assemble(a, origin);
        return new GuestImage("even-page-scanner", bytes, origin, origin, BootMode.Protected, 1, "reads every even lazy page, forever");
    }

    // Odd pages wait until the read is cancelled (the VM's flush); even pages come from the inner store.
    private sealed class OddPagesNeverArriveStore(IBackingStore inner) : IBackingStore
    {
        private readonly List<(int Count, TaskCompletionSource Reached)> _waiters = new();
        private long _readsAfterUnmap;
        private int _oddReads;

        public Task OddReadsStarted(int count)
        {
            var reached = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            lock (_waiters)
            {
                if (_oddReads >= count) reached.SetResult();
                else _waiters.Add((count, reached));
            }
            return reached.Task;
        }

        public LazyGuestMemory? Region { get; set; }

        public long ReadsAfterUnmap => Interlocked.Read(ref _readsAfterUnmap);

        public string Description => $"odd pages never arrive; {inner.Description}";

        public async ValueTask<PageContent> ReadPageAsync(ulong pageIndex, Memory<byte> page, CancellationToken cancellationToken = default)
        {
            if (Region is { IsClosed: true }) Interlocked.Increment(ref _readsAfterUnmap);
            if (pageIndex % 2 == 1)
            {
                lock (_waiters)
                {
                    _oddReads++;
                    foreach (var w in _waiters.Where(w => w.Count <= _oddReads).ToList())
                    {
                        w.Reached.SetResult();
                        _waiters.Remove(w);
                    }
                }
                await Task.Delay(Timeout.Infinite, cancellationToken).ConfigureAwait(false);
            }
            return await inner.ReadPageAsync(pageIndex, page, cancellationToken).ConfigureAwait(false);
        }
    }

    private sealed class ErrorCounter
    {
        private long _count;
        public long Count => Interlocked.Read(ref _count);
        public void Add() => Interlocked.Increment(ref _count);
    }

    private sealed class ErrorCounterActor : Akka.Actor.ReceiveActor
    {
        public ErrorCounterActor(ErrorCounter counter) => Receive<Akka.Event.Error>(_ => counter.Add());
    }

    private static byte[] Assemble(Assembler a, ulong origin)
    {
        using var stream = new MemoryStream();
        a.Assemble(new StreamCodeWriter(stream), origin);
        return stream.ToArray();
    }
}
