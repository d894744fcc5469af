using System.Diagnostics;
using System.Globalization;
using Actorvisor.Hardware.Accel;
using Actorvisor.Hardware.Devices;
using Actorvisor.Hardware.Guests;
using Actorvisor.Hardware.Machines;
using Actorvisor.Hardware.Snapshots;
using Actorvisor.Hardware.Soft;

namespace Actorvisor.Host.Bench;

/// <summary>
/// `bench snapshot`: a software-accelerator guest of <c>memory</c> bytes that has written <c>written</c> bytes (the
/// counter guest's ballast) is stopped after its first line and snapshotted; each round times the snapshot write
/// against a plain sequential write of the same size with dd (conv=fsync), and the three restores from the start of
/// the restore to the guest's first exit after it (its first instruction has run), the lazy one also to its first
/// console byte. Rounds alternate the sides; figures are medians with min and max. The snapshot files are read from a
/// warm page cache (dropping it needs root).
/// </summary>
public static class SnapshotBenchmark
{
    /// <summary>Runs <paramref name="rounds"/> measured rounds after a warm-up one, in <paramref name="directory"/> (a temp directory if null).</summary>
    public static IReadOnlyList<(string Key, string Value)> Run(ulong memory, ulong written, int rounds, string? directory, TextWriter log)
    {
        var root = directory ?? Directory.CreateTempSubdirectory("actorvisor-bench-snapshot-").FullName;
        Directory.CreateDirectory(root);
        using var accelerator = new SoftAccelerator();
        int ballast = (int)(written >> 12);
        var image = GuestLibrary.Counter(1000, ballast);
        var console = new CapturingConsoleSink();
        using var source = MachineParts.Build(accelerator, new MachineSpec { Image = image, MemoryBytes = memory }, console);
        RunUntil(source, () => console.Text.Contains('\n'), stopOnLine: true);
        var content = SnapshotContent.Of(source, "bench");

        var writeS = new RoundSamples("snapshot.write_s", "0.000");
        var bytes = new RoundSamples("snapshot.bytes", "0");
        var disk = new RoundSamples("snapshot.disk_write_mbps", "0.0");
        var ratio = new RoundSamples("snapshot.write_over_disk", "0.00");
        var eager = new RoundSamples("restore.eager_ms", "0.00");
        var mmap = new RoundSamples("restore.mmap_ms", "0.00");
        var lazy = new RoundSamples("restore.lazy_ms", "0.00");
        var lazyOutput = new RoundSamples("restore.lazy_first_output_ms", "0.00");
        try
        {
            for (int round = 0; round <= rounds; round++)
            {
                bool measured = round > 0;
                var target = Path.Join(root, $"snapshot-{round}");
                var clock = Stopwatch.StartNew();
                var result = new SnapshotWriter().Write(target, content);
                double seconds = clock.Elapsed.TotalSeconds;
                double ddMbps = Dd(Path.Join(root, $"dd-{round}"), result.BytesOnDisk);
                double snapMbps = result.BytesOnDisk / 1e6 / seconds;
                var reader = SnapshotReader.Open(target, AcceleratorKind.Software);
                double eagerMs = Restore(accelerator, reader, RestoreMode.Eager, out _);
                double mmapMs = Restore(accelerator, reader, RestoreMode.Mmap, out _);
                double lazyMs = Restore(accelerator, reader, RestoreMode.Lazy, out double lazyFirstOutput);
                log.WriteLine($"round {round}{(measured ? "" : " (warm-up)")}: write {seconds:0.000} s ({result.BytesOnDisk} bytes, {snapMbps:0.0} MB/s, dd {ddMbps:0.0} MB/s), " +
                    $"restore eager {eagerMs:0.00} ms, mmap {mmapMs:0.00} ms, lazy {lazyMs:0.00} ms (first output {lazyFirstOutput:0.00} ms)");
                Directory.Delete(target, recursive: true);
                if (!measured) continue;
                writeS.Add(seconds);
                bytes.Add(result.BytesOnDisk);
                disk.Add(ddMbps);
                ratio.Add(snapMbps / ddMbps);
                eager.Add(eagerMs);
                mmap.Add(mmapMs);
                lazy.Add(lazyMs);
                lazyOutput.Add(lazyFirstOutput);
            }
        }
        finally
        {
            if (directory is null) Directory.Delete(root, recursive: true);
        }
        return
        [
            ("snapshot.memory_bytes", memory.ToString(CultureInfo.InvariantCulture)),
            ("snapshot.written_bytes", written.ToString(CultureInfo.InvariantCulture)),
            .. new[] { writeS, bytes, disk, ratio, eager, mmap, lazy, lazyOutput }.SelectMany(s => s.Figures()),
        ];
    }

    // From the start of the restore to the guest's first exit (its first instruction ran); lazy also to its first console byte.
    private static double Restore(IAccelerator accelerator, SnapshotReader reader, RestoreMode mode, out double firstOutputMs)
    {
        var console = new CapturingConsoleSink();
        var clock = Stopwatch.StartNew();
        using var parts = SnapshotRestore.Build(accelerator, reader, mode, console);
        var first = new FirstExit(parts.Bus);
        parts.Vcpus[0].Run(first);
        double firstExitMs = clock.Elapsed.TotalMilliseconds;
        RunUntil(parts, () => console.BytesWritten > 0, stopOnLine: false);
        firstOutputMs = clock.Elapsed.TotalMilliseconds;
        return firstExitMs;
    }

    private static void RunUntil(MachineParts parts, Func<bool> done, bool stopOnLine)
    {
        var handler = new StopWhen(parts.Bus, done, stopOnLine);
        while (!done())
        {
            var exit = parts.Vcpus[0].Run(handler);
            if (exit is VcpuExit.PortIo { Port: DebugExitDevice.DefaultPort }) throw new InvalidOperationException("the benchmark guest ended early");
            if (exit is VcpuExit.InternalError or VcpuExit.Shutdown) throw new InvalidOperationException($"the benchmark guest failed: {exit}");
        }
    }

    // A plain sequential write of the same size: dd if=/dev/zero bs=1M conv=fsync; returns MB/s (10^6 bytes).
    private static double Dd(string path, ulong bytes)
    {
        long mib = Math.Max(1, (long)(bytes >> 20));
        var start = new ProcessStartInfo("dd", [$"if=/dev/zero", $"of={path}", "bs=1M", $"count={mib}", "conv=fsync"])
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
        };
        var clock = Stopwatch.StartNew();
        using var dd = Process.Start(start) ?? throw new InvalidOperationException("dd could not be started");
        dd.StandardError.ReadToEnd();
        dd.WaitForExit();
        double seconds = clock.Elapsed.TotalSeconds;
        File.Delete(path);
        if (dd.ExitCode != 0) throw new InvalidOperationException($"dd exited with {dd.ExitCode}");
        return (mib << 20) / 1e6 / seconds;
    }

    private sealed class FirstExit(DeviceBus bus) : IExitHandler
    {
        public ExitAction OnPortIo(ushort port, IoDirection direction, Span<byte> data)
        {
            bus.OnPortIo(port, direction, data);
            return ExitAction.Stop;
        }

        public ExitAction OnMmio(ulong gpa, bool isWrite, Span<byte> data)
        {
            bus.OnMmio(gpa, isWrite, data);
            return ExitAction.Stop;
        }
    }

    private sealed class StopWhen(DeviceBus bus, Func<bool> done, bool onlyAtLineEnd) : IExitHandler
    {
        public ExitAction OnPortIo(ushort port, IoDirection direction, Span<byte> data)
        {
            var action = bus.OnPortIo(port, direction, data);
            if (onlyAtLineEnd ? port == GuestLibrary.PortIoLoopPort && done() : done()) return ExitAction.Stop;
            return action;
        }

        public ExitAction OnMmio(ulong gpa, bool isWrite, Span<byte> data) => bus.OnMmio(gpa, isWrite, data);
    }
}
