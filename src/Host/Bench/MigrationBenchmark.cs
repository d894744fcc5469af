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
/// `bench migrate`: pre-copy live migration on the software accelerator between two machines of this process over
/// loopback TCP. The guest (<see cref="GuestLibrary.DirtyingCounter"/> over all RAM above its image) keeps printing a
/// counter and dirtying <c>pagesPerLine</c> pages after each line, walking its whole region, so its dirty rate is what
/// the software accelerator lets it reach (reported as <c>migrate.dirty_mbps</c>, not set). Each round builds a fresh
/// source, lets it run <c>warmLines</c> lines, migrates it, and runs the target to its next line (checking the
/// sequence goes on). Downtime is from the source's stop request (its vCPU kicked) to the target's first guest entry.
/// Figures are medians with min and max. Then one migration per intensity (1 to 16 pages per line) gives
/// <c>migrate.max_converging_dirty_mbps</c>: the highest dirty rate measured in a migration that met the downtime budget.
/// </summary>
public static class MigrationBenchmark
{
    /// <summary>Runs <paramref name="rounds"/> measured rounds after a warm-up one.</summary>
    public static IReadOnlyList<(string Key, string Value)> Run(ulong memory, int pagesPerLine, TimeSpan maxDowntime, int rounds, TextWriter log)
    {
        int pages = (int)((memory - GuestLayout.DataBase) >> 12) - 1;
        var image = GuestLibrary.DirtyingCounter(GuestLibrary.MaxCounterLines, pages, pagesPerLine);
        using var sourceAccelerator = new SoftAccelerator();
        using var targetAccelerator = new SoftAccelerator();
        var downtime = new RoundSamples("migrate.downtime_ms", "0.00");
        var total = new RoundSamples("migrate.total_s", "0.000");
        var count = new RoundSamples("migrate.rounds", "0");
        var overRam = new RoundSamples("migrate.bytes_over_ram", "0.000");
        var dirty = new RoundSamples("migrate.dirty_mbps", "0.0");
        var bandwidth = new RoundSamples("migrate.bandwidth_mbps", "0.0");
        var converged = new RoundSamples("migrate.converged", "0");
        for (int round = 0; round <= rounds; round++)
        {
            var m = Once(sourceAccelerator, targetAccelerator, image, memory, pages / pagesPerLine + 16, maxDowntime, log);
            var last = m.Result.Rounds[^1];
            double dirtyMbps = DirtyMbps(m.Result);
            log.WriteLine($"round {round}{(round == 0 ? " (warm-up)" : "")}: downtime {m.DowntimeMs:0.00} ms, total {m.Result.Total.TotalSeconds:0.000} s, " +
                $"{m.Result.Rounds.Count} rounds ({string.Join(", ", m.Result.Rounds.Select(r => r.PagesSent + r.ZeroPagesSent))} pages), last {m.Result.FinalPages} pages paused, " +
                $"{m.Result.BytesOverRam:0.000} bytes/RAM, dirty {dirtyMbps:0.0} MB/s, stream {last.BandwidthBytesPerSecond / 1e6:0.0} MB/s, converged {m.Result.Converged}");
            if (round == 0) continue;
            downtime.Add(m.DowntimeMs);
            total.Add(m.Result.Total.TotalSeconds);
            count.Add(m.Result.Rounds.Count);
            overRam.Add(m.Result.BytesOverRam);
            dirty.Add(dirtyMbps);
            bandwidth.Add(last.BandwidthBytesPerSecond / 1e6);
            converged.Add(m.Result.Converged ? 1 : 0);
        }
        // The convergence limit: one migration per dirtying intensity; the highest dirty rate measured in a migration that
        // converged and kept to the budget (0 if none did).
        double maxConverging = 0;
        foreach (int perLine in new[] { 1, 2, 4, 8, 16 })
        {
            var sweepImage = GuestLibrary.DirtyingCounter(GuestLibrary.MaxCounterLines, pages, perLine);
            var m = Once(sourceAccelerator, targetAccelerator, sweepImage, memory, pages / perLine + 16, maxDowntime, TextWriter.Null);
            double rate = DirtyMbps(m.Result);
            bool kept = m.Result.Converged && m.DowntimeMs <= maxDowntime.TotalMilliseconds;
            log.WriteLine($"sweep {perLine} pages/line: dirty {rate:0.0} MB/s, {m.Result.Rounds.Count} rounds, downtime {m.DowntimeMs:0.00} ms, converged {m.Result.Converged}{(kept ? "" : " (over budget)")}");
            if (kept) maxConverging = Math.Max(maxConverging, rate);
        }
        return
        [
            ("migrate.memory_bytes", memory.ToString(CultureInfo.InvariantCulture)),
            ("migrate.pages_per_line", pagesPerLine.ToString(CultureInfo.InvariantCulture)),
            ("migrate.max_downtime_ms", maxDowntime.TotalMilliseconds.ToString("0", CultureInfo.InvariantCulture)),
            .. new[] { downtime, total, count, overRam, dirty, bandwidth, converged }.SelectMany(s => s.Figures()),
            ("migrate.max_converging_dirty_mbps", maxConverging.ToString("0.0", CultureInfo.InvariantCulture)),
        ];
    }

    // The guest's dirty rate over the rounds after the first (round 0's harvest alone when there are none), MB/s of pages.
    private static double DirtyMbps(MigrationResult result) =>
        result.Rounds.Skip(1).DefaultIfEmpty(result.Rounds[0]).Average(r => r.DirtyPagesPerSecond) * 4096 / 1e6;

    private sealed record Measured(MigrationResult Result, double DowntimeMs);

    private static Measured Once(IAccelerator sourceAccelerator, IAccelerator targetAccelerator, GuestImage image, ulong memory, int warmLines, TimeSpan maxDowntime, TextWriter log)
    {
        var sourceConsole = new ConsoleTail();
        using var source = new GuestThread("bench-migrate", MachineParts.Build(sourceAccelerator, new MachineSpec { Image = image, MemoryBytes = memory }, sourceConsole));
        // Once the guest has walked its whole region, every page holds data.
        source.Start();
        source.AwaitLines(warmLines);

        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var targetConsole = new ConsoleTail();
        var receiving = Task.Factory.StartNew(() =>
        {
            using var socket = listener.AcceptTcpClient();
            socket.NoDelay = true;
            using var channel = new MigrationChannel(socket.GetStream());
            return MigrationTarget.Receive(targetAccelerator, channel, targetConsole);
        }, TaskCreationOptions.LongRunning);
        MigrationResult result;
        using (var client = new TcpClient { NoDelay = true })
        {
            client.Connect(IPAddress.Loopback, ((IPEndPoint)listener.LocalEndpoint).Port);
            using var channel = new MigrationChannel(client.GetStream());
            result = PreCopySource.Run(source, channel, new PreCopyOptions { MaxDowntime = maxDowntime }, r => log.WriteLine($"  round {r.Number}: {r.PagesSent + r.ZeroPagesSent} pages in {r.Duration.TotalMilliseconds:0} ms, {r.DirtyPagesLeft} dirty left, expected downtime {r.ExpectedDowntime.TotalMilliseconds:0} ms"));
        }
        using var target = receiving.GetAwaiter().GetResult().Parts;
        // The target's first entry: the end of the downtime.
        double downtimeMs = Stopwatch.GetElapsedTime(source.StopRequested).TotalMilliseconds;
        // To the end of a line the target printed itself (its first instruction may be the port write ending the source's line).
        var handler = new LineEnd(target.Bus);
        while (!targetConsole.Text.Contains('\n'))
        {
            var exit = target.Vcpus[0].Run(handler);
            if (exit is not (VcpuExit.Interrupted or VcpuExit.PortIo { Port: GuestLibrary.PortIoLoopPort }))
                throw new InvalidOperationException($"the migrated guest stopped with {exit}");
        }
        // The target's first line end follows the source's last one: the two last lines are consecutive.
        var joined = sourceConsole.Text + targetConsole.Text;
        var last = joined.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        bool continues = targetConsole.Text.Length > 0 && last.Length >= 2 && last[^1].StartsWith("count=", StringComparison.Ordinal)
            && uint.TryParse(last[^1].AsSpan(6), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out uint line) && line > 0
            && joined.EndsWith(GuestLibrary.CounterLine(line - 1) + GuestLibrary.CounterLine(line), StringComparison.Ordinal);
        if (!continues)
            throw new InvalidOperationException($"the migrated guest did not continue the sequence: the source ended with '{sourceConsole.Text}', the target printed '{targetConsole.Text}'");
        return new Measured(result, downtimeMs);
    }

    /// <summary>The last characters a guest printed (enough for two counter lines).</summary>
    private sealed class ConsoleTail : IConsoleSink
    {
        private readonly System.Text.StringBuilder _tail = new();

        public string Text
        {
            get
            {
                lock (_tail) return _tail.ToString();
            }
        }

        public void Write(ReadOnlySpan<byte> bytes)
        {
            lock (_tail)
            {
                foreach (var b in bytes) _tail.Append((char)b);
                if (_tail.Length > 64) _tail.Remove(0, _tail.Length - 64);
            }
        }
    }

    /// <summary>Stops the vCPU at the first line end (the counter's port write).</summary>
    private sealed class LineEnd(DeviceBus bus) : IExitHandler
    {
        public ExitAction OnPortIo(ushort port, IoDirection direction, Span<byte> data)
        {
            var action = bus.OnPortIo(port, direction, data);
            return port == GuestLibrary.PortIoLoopPort ? ExitAction.Stop : action;
        }

        public ExitAction OnMmio(ulong gpa, bool isWrite, Span<byte> data) => bus.OnMmio(gpa, isWrite, data);
    }

    /// <summary>The source machine: vCPU 0 on a thread of its own, paused by the migration.</summary>
    private sealed class GuestThread(string name, MachineParts parts) : IMigratingVm, IDisposable
    {
        private readonly LineCount _lines = new(parts.Bus);
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

    /// <summary>Counts the counter's line ends on the vCPU thread; a waiter is woken at each.</summary>
    private sealed class LineCount(DeviceBus bus) : IExitHandler
    {
        public long Count;
        private readonly SemaphoreSlim _line = new(0);

        public void Wait() => _line.Wait(TimeSpan.FromMilliseconds(50));

        public ExitAction OnPortIo(ushort port, IoDirection direction, Span<byte> data)
        {
            var action = bus.OnPortIo(port, direction, data);
            if (port == GuestLibrary.PortIoLoopPort)
            {
                Interlocked.Increment(ref Count);
                if (_line.CurrentCount == 0) _line.Release();
            }
            return action;
        }

        public ExitAction OnMmio(ulong gpa, bool isWrite, Span<byte> data) => bus.OnMmio(gpa, isWrite, data);
    }
}
