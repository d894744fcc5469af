using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Actorvisor.Hardware.Accel;
using Actorvisor.Hardware.Devices;
using Actorvisor.Hardware.Guests;
using Actorvisor.Hardware.Machines;
using Actorvisor.Hardware.Migration;
using Actorvisor.Hardware.Snapshots;
using Actorvisor.Hardware.Soft;
using Actorvisor.Hardware.X86;

namespace Actorvisor.Host.Bench;

/// <summary>
/// `bench migrate`: live migration on the software accelerator between two machines of this process over loopback TCP,
/// with the issue's workload: a guest (<see cref="GuestLibrary.RandomDirtyingCounter"/> over all RAM above its image)
/// that prints a counter and dirties <c>pagesPerLine</c> pseudo-random pages after each line, paced by the host at the
/// line boundary to a dirty rate (default 50 MB/s; a rate the accelerator cannot reach runs unpaced). Each round builds
/// a fresh source, lets it run a second, migrates it, and runs the target (checking the counter sequence goes on).
/// Downtime is from the source's stop request (its vCPU kicked) to the target's first guest entry. Pre-copy rounds give
/// <c>migrate.downtime_ms</c>, <c>total_s</c>, <c>rounds</c>, <c>bytes_over_ram</c>; post-copy rounds (always, after
/// the first pass; the target runs paced while its pages follow) give <c>migrate.postcopy_downtime_ms</c>,
/// <c>postcopy_remote_faults</c>, <c>postcopy_total_s</c>. Each sweep of pre-copy migrations at doubling paced rates
/// (25 MB/s up, until two in a row miss the budget) gives the highest measured dirty rate that still converged within the budget:
/// <c>migrate.max_converging_dirty_mbps</c>. Every figure is a median with min and max.
/// </summary>
public static class MigrationBenchmark
{
    private static readonly double[] SweepMbps = [25, 50, 100, 200, 400, 800, 1600];

    /// <summary>Runs <paramref name="rounds"/> measured rounds of each kind after a warm-up one, then <paramref name="rounds"/> sweeps.</summary>
    public static IReadOnlyList<(string Key, string Value)> Run(ulong memory, int pagesPerLine, double dirtyMbps, TimeSpan maxDowntime, int rounds, TextWriter log)
    {
        int pages = (int)((memory - GuestLayout.DataBase) >> 12) - 1;
        var image = GuestLibrary.RandomDirtyingCounter(GuestLibrary.MaxCounterLines, pages, pagesPerLine);
        using var sourceAccelerator = new SoftAccelerator();
        using var targetAccelerator = new SoftAccelerator();
        var workload = new Workload(image, memory, pagesPerLine, dirtyMbps);
        var downtime = new RoundSamples("migrate.downtime_ms", "0.00");
        var total = new RoundSamples("migrate.total_s", "0.000");
        var count = new RoundSamples("migrate.rounds", "0");
        var overRam = new RoundSamples("migrate.bytes_over_ram", "0.000");
        var dirty = new RoundSamples("migrate.dirty_mbps", "0.0");
        var bandwidth = new RoundSamples("migrate.bandwidth_mbps", "0.0");
        var converged = new RoundSamples("migrate.converged", "0");
        var postDowntime = new RoundSamples("migrate.postcopy_downtime_ms", "0.00");
        var postFaults = new RoundSamples("migrate.postcopy_remote_faults", "0");
        var postMissing = new RoundSamples("migrate.postcopy_missing_pages", "0");
        var postTotal = new RoundSamples("migrate.postcopy_total_s", "0.000");
        for (int round = 0; round <= rounds; round++)
        {
            string warm = round == 0 ? " (warm-up)" : "";
            var m = Once(sourceAccelerator, targetAccelerator, workload, new PreCopyOptions { MaxDowntime = maxDowntime }, log);
            var last = m.Result.Rounds[^1];
            double measured = DirtyMbps(m.Result);
            log.WriteLine($"pre-copy {round}{warm}: downtime {m.DowntimeMs:0.00} ms, total {m.Result.Total.TotalSeconds:0.000} s, " +
                $"{m.Result.Rounds.Count} rounds ({string.Join(", ", m.Result.Rounds.Select(r => r.PagesSent + r.ZeroPagesSent))} pages), last {m.Result.FinalPages} pages paused, " +
                $"{m.Result.BytesOverRam:0.000} bytes/RAM, dirty {measured:0.0} MB/s, stream {last.BandwidthBytesPerSecond / 1e6:0.0} MB/s, converged {m.Result.Converged}");
            log.WriteLine(m.Steps());
            var p = Once(sourceAccelerator, targetAccelerator, workload, new PreCopyOptions { MaxDowntime = maxDowntime, PostCopy = PostCopyMode.Always }, log);
            var stats = p.Result.PostCopy!;
            log.WriteLine($"post-copy {round}{warm}: downtime {p.DowntimeMs:0.00} ms, total {p.Result.Total.TotalSeconds:0.000} s, {stats.MissingPages} pages missing at the switchover, " +
                $"{p.RemoteFaults} remote faults, {stats.PagesPushed} pushed, {stats.PagesRequested} sent on request, post-copy {stats.Duration.TotalSeconds:0.000} s");
            log.WriteLine(p.Steps());
            if (round == 0) continue;
            downtime.Add(m.DowntimeMs);
            total.Add(m.Result.Total.TotalSeconds);
            count.Add(m.Result.Rounds.Count);
            overRam.Add(m.Result.BytesOverRam);
            dirty.Add(measured);
            bandwidth.Add(last.BandwidthBytesPerSecond / 1e6);
            converged.Add(m.Result.Converged ? 1 : 0);
            postDowntime.Add(p.DowntimeMs);
            postFaults.Add(p.RemoteFaults);
            postMissing.Add(stats.MissingPages);
            postTotal.Add(p.Result.Total.TotalSeconds);
        }
        // The convergence limit: per sweep, pre-copy at doubling paced rates until two in a row miss the budget (one miss
        // can be the shared machine's noise); the highest measured dirty rate of a migration that converged and kept to
        // the budget (0 if none did).
        var maxConverging = new RoundSamples("migrate.max_converging_dirty_mbps", "0.0");
        for (int sweep = 0; sweep < rounds; sweep++)
        {
            double best = 0;
            int missed = 0;
            foreach (var mbps in SweepMbps)
            {
                var m = Once(sourceAccelerator, targetAccelerator, workload with { DirtyMbps = mbps }, new PreCopyOptions { MaxDowntime = maxDowntime }, TextWriter.Null);
                double rate = DirtyMbps(m.Result);
                bool kept = m.Result.Converged && m.DowntimeMs <= maxDowntime.TotalMilliseconds;
                log.WriteLine($"sweep {sweep}, paced {mbps:0} MB/s: dirty {rate:0.0} MB/s, {m.Result.Rounds.Count} rounds, downtime {m.DowntimeMs:0.00} ms, converged {m.Result.Converged}{(kept ? "" : " (over budget)")}");
                if (!kept && ++missed == 2) break;
                if (!kept) continue;
                missed = 0;
                best = Math.Max(best, rate);
            }
            maxConverging.Add(best);
        }
        return
        [
            ("migrate.memory_bytes", memory.ToString(CultureInfo.InvariantCulture)),
            ("migrate.pages_per_line", pagesPerLine.ToString(CultureInfo.InvariantCulture)),
            ("migrate.paced_dirty_mbps", dirtyMbps.ToString("0", CultureInfo.InvariantCulture)),
            ("migrate.max_downtime_ms", maxDowntime.TotalMilliseconds.ToString("0", CultureInfo.InvariantCulture)),
            .. new[] { downtime, total, count, overRam, dirty, bandwidth, converged, postDowntime, postFaults, postMissing, postTotal, maxConverging }.SelectMany(s => s.Figures()),
        ];
    }

    // The guest's dirty rate over the rounds after the first (round 0's harvest alone when there are none), MB/s of distinct pages.
    private static double DirtyMbps(MigrationResult result) =>
        result.Rounds.Skip(1).DefaultIfEmpty(result.Rounds[0]).Average(r => r.DirtyPagesPerSecond) * 4096 / 1e6;

    /// <summary>The guest and its pace: <paramref name="DirtyMbps"/> MB/s of pages written, <paramref name="PagesPerLine"/> a line.</summary>
    private sealed record Workload(GuestImage Image, ulong Memory, int PagesPerLine, double DirtyMbps)
    {
        /// <summary>Stopwatch ticks between two line ends at the paced rate.</summary>
        public long TicksPerLine => (long)(PagesPerLine * 4096.0 / (DirtyMbps * 1e6) * Stopwatch.Frequency);

        /// <summary>Lines in a second at the paced rate.</summary>
        public int LinesPerSecond => (int)Math.Max(1, DirtyMbps * 1e6 / (PagesPerLine * 4096.0));
    }

    private sealed record Measured(MigrationResult Result, double DowntimeMs, long RemoteFaults, TimeSpan TargetBuild, long DiscardCalls)
    {
        /// <summary>Where the downtime went: the source's steps, the target's share of them, and the go-ahead to the target's first entry.</summary>
        public string Steps()
        {
            var steps = Result.Switchover!;
            string discards = Result.DiscardRounds.Count == 0 ? "" :
                $"; discard rounds before the pause: {string.Join(", ", Result.DiscardRounds.Select(d => $"{d.Pages} pages in {d.Duration.TotalMilliseconds:0.0} ms"))}, {DiscardCalls} discard calls in all";
            return $"  switchover: {steps} (target build {TargetBuild.TotalMilliseconds:0.0} ms of the state to ready), go to first entry {DowntimeMs - steps.Total.TotalMilliseconds:0.0} ms{discards}";
        }
    }

    private static Measured Once(IAccelerator sourceAccelerator, IAccelerator targetAccelerator, Workload workload, PreCopyOptions options, TextWriter log)
    {
        var sourceConsole = new ConsoleTail();
        using var source = new GuestThread("bench-migrate", MachineParts.Build(sourceAccelerator, new MachineSpec { Image = workload.Image, MemoryBytes = workload.Memory }, sourceConsole), workload);
        // A second of the workload first: its pages are scattered over RAM before the migration starts.
        source.Start();
        source.AwaitLines(workload.LinesPerSecond);

        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var targetConsole = new ConsoleTail();
        var receiving = Task.Factory.StartNew(() =>
        {
            using var socket = listener.AcceptTcpClient();
            socket.NoDelay = true;
            using var channel = new MigrationChannel(socket.GetStream());
            var received = MigrationTarget.Receive(targetAccelerator, channel, targetConsole);
            // The target's first entry: the end of the downtime.
            long firstEntry = Stopwatch.GetTimestamp();
            // To the end of a line the target printed itself (its first instruction may be the port write ending the
            // source's line), and by post-copy on, paced, until every page is here.
            var handler = new LineCount(received.Parts.Bus, workload.TicksPerLine, stopAtLine: true);
            while (!targetConsole.Head.Contains('\n') || received.PostCopy is { Completion.IsCompleted: false })
            {
                var exit = received.Parts.Vcpus[0].Run(handler);
                if (exit is not (VcpuExit.Interrupted or VcpuExit.PortIo { Port: GuestLibrary.PortIoLoopPort }))
                    throw new InvalidOperationException($"the migrated guest stopped with {exit}");
            }
            received.PostCopy?.Completion.GetAwaiter().GetResult();
            return (received, firstEntry);
        }, TaskCreationOptions.LongRunning);
        MigrationResult result;
        using (var client = new TcpClient { NoDelay = true })
        {
            client.Connect(IPAddress.Loopback, ((IPEndPoint)listener.LocalEndpoint).Port);
            using var channel = new MigrationChannel(client.GetStream());
            result = PreCopySource.Run(source, channel, options, r => log.WriteLine($"  round {r.Number}: {r.PagesSent + r.ZeroPagesSent} pages in {r.Duration.TotalMilliseconds:0} ms, {r.DirtyPagesLeft} dirty left, expected downtime {r.ExpectedDowntime.TotalMilliseconds:0} ms"));
        }
        var (received, firstEntry) = receiving.GetAwaiter().GetResult();
        using var target = received.Parts;
        double downtimeMs = Stopwatch.GetElapsedTime(source.StopRequested, firstEntry).TotalMilliseconds;
        // The target's first line end follows the source's last one: the two lines are consecutive.
        var targetHead = targetConsole.Head;
        var joined = sourceConsole.Text + targetHead[..(targetHead.IndexOf('\n') + 1)];
        var last = joined.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        bool continues = targetHead.Contains('\n') && last.Length >= 2 && last[^1].StartsWith("count=", StringComparison.Ordinal)
            && uint.TryParse(last[^1].AsSpan(6), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out uint line) && line > 0
            && joined.EndsWith(GuestLibrary.CounterLine(line - 1) + GuestLibrary.CounterLine(line), StringComparison.Ordinal);
        if (!continues)
            throw new InvalidOperationException($"the migrated guest did not continue the sequence: the source ended with '{sourceConsole.Text}', the target began with '{targetHead}'");
        return new Measured(result, downtimeMs, received.PostCopy?.RemoteFaults ?? 0, received.Build, received.DiscardCalls);
    }

    /// <summary>The first and the last characters a guest printed (enough for a few counter lines each).</summary>
    private sealed class ConsoleTail : IConsoleSink
    {
        private readonly System.Text.StringBuilder _head = new();
        private readonly System.Text.StringBuilder _tail = new();

        /// <summary>The last 64 characters.</summary>
        public string Text
        {
            get
            {
                lock (_tail) return _tail.ToString();
            }
        }

        /// <summary>The first 64 characters.</summary>
        public string Head
        {
            get
            {
                lock (_tail) return _head.ToString();
            }
        }

        public void Write(ReadOnlySpan<byte> bytes)
        {
            lock (_tail)
            {
                foreach (var b in bytes)
                {
                    if (_head.Length < 64) _head.Append((char)b);
                    _tail.Append((char)b);
                }
                if (_tail.Length > 64) _tail.Remove(0, _tail.Length - 64);
            }
        }
    }

    /// <summary>The source machine: vCPU 0 on a thread of its own, paced, paused by the migration.</summary>
    private sealed class GuestThread(string name, MachineParts parts, Workload workload) : IMigratingVm, IDisposable
    {
        private readonly LineCount _lines = new(parts.Bus, workload.TicksPerLine, stopAtLine: false);
        private Task _loop = Task.CompletedTask;
        private volatile bool _stop;

        public string Name => name;

        public MachineParts Parts => parts;

        /// <summary>The Stopwatch timestamp of the pause request.</summary>
        public long StopRequested { get; private set; }

        public void Start()
        {
            _stop = false;
            _loop = Task.Factory.StartNew(() =>
            {
                while (!_stop)
                {
                    var exit = parts.Vcpus[0].Run(_lines);
                    if (exit is not VcpuExit.Interrupted) throw new InvalidOperationException($"the benchmark guest stopped with {exit}");
                }
            }, TaskCreationOptions.LongRunning);
        }

        public void AwaitLines(long lines)
        {
            while (Volatile.Read(ref _lines.Count) < lines)
            {
                if (_loop.IsCompleted) _loop.GetAwaiter().GetResult();
                _lines.Wait();
            }
        }

        public SnapshotContent Pause()
        {
            StopRequested = Stopwatch.GetTimestamp();
            _stop = true;
            parts.Vcpus[0].Kick();
            _loop.GetAwaiter().GetResult();
            return SnapshotContent.Of(parts, name);
        }

        public void Resume() => Start();

        public void Dispose()
        {
            _stop = true;
            parts.Vcpus[0].Kick();
            try
            {
                _loop.GetAwaiter().GetResult();
            }
            finally
            {
                parts.Dispose();
            }
        }
    }

    /// <summary>
    /// Counts the counter's line ends on the vCPU thread and paces them: a line that comes before its time (one line
    /// every <c>ticksPerLine</c> from the first) waits for it. A waiter is woken at each; with <c>stopAtLine</c> the vCPU
    /// stops there (its runner looks around between lines).
    /// </summary>
    private sealed class LineCount(DeviceBus bus, long ticksPerLine, bool stopAtLine) : IExitHandler
    {
        public long Count;
        private readonly SemaphoreSlim _line = new(0);
        private long _start;

        public void Wait() => _line.Wait(TimeSpan.FromMilliseconds(50));

        public ExitAction OnPortIo(ushort port, IoDirection direction, Span<byte> data)
        {
            var action = bus.OnPortIo(port, direction, data);
            if (port != GuestLibrary.PortIoLoopPort) return action;
            long n = Interlocked.Increment(ref Count);
            if (_start == 0) _start = Stopwatch.GetTimestamp();
            long due = _start + n * ticksPerLine;
            long ahead = due - Stopwatch.GetTimestamp();
            // The host's pacing of the workload, on the vCPU thread: sleeps for whole milliseconds, spins the rest.
            if (ahead > Stopwatch.Frequency / 1000) Thread.Sleep(TimeSpan.FromTicks(ahead * TimeSpan.TicksPerSecond / Stopwatch.Frequency));
            while (Stopwatch.GetTimestamp() < due) Thread.SpinWait(20);
            if (_line.CurrentCount == 0) _line.Release();
            return stopAtLine ? ExitAction.Stop : action;
        }

        public ExitAction OnMmio(ulong gpa, bool isWrite, Span<byte> data) => bus.OnMmio(gpa, isWrite, data);
    }
}
