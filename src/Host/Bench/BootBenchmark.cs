using System.Diagnostics;
using System.Globalization;
using System.Text;
using Actorvisor.Hardware.Devices;
using Actorvisor.Hardware.Images.Linux;
using Actorvisor.Hardware.Kvm;
using Actorvisor.Hardware.Machines;

namespace Actorvisor.Host.Bench;

/// <summary>
/// `actorvisor bench boot`: the same Linux kernel, initramfs, command line, memory and vCPU count booted to a marker line
/// on the serial console by Actorvisor (a <see cref="Machine"/> on KVM's PC platform, timed from building the machine)
/// and by QEMU (<c>qemu-system-x86_64 -accel kvm</c>, timed from starting the process), after one untimed warm-up boot
/// of each, alternating, then Actorvisor
/// once more per round with its own defaults (the command line plus <c>pci=off</c>: the machine has no PCI device).
/// Figures: seconds to the marker on each side (median, min, max), their ratio, and the exits of Actorvisor's runs by
/// reason: those the runtime handled (port I/O, MMIO) and, where the host's KVM statistics are readable
/// (<c>/sys/kernel/debug/kvm</c>: every exit the kernel counted for the one VM alive, read at the marker), KVM's
/// own counts for both VMMs.
/// </summary>
public static class BootBenchmark
{
    /// <summary>Where KVM's VM-wide statistics are (debugfs); each file sums over the VMs alive.</summary>
    public const string KvmStatsDirectory = "/sys/kernel/debug/kvm";

    /// <summary>KVM's statistics reported per run, when readable.</summary>
    public static readonly IReadOnlyList<string> KvmStats = ["exits", "io_exits", "mmio_exits", "halt_exits", "irq_exits", "irq_window_exits", "nmi_window_exits", "request_irq_exits", "signal_exits", "insn_emulation"];

    /// <summary>What a run measured: seconds to the marker and the exit counts by reason.</summary>
    private sealed record BootRun(double Seconds, IReadOnlyDictionary<string, long> Exits, double? GuestUptime);

    /// <summary>The boot's settings, the same for both VMMs.</summary>
    /// <param name="Kernel">The bzImage.</param>
    /// <param name="Initrd">The initramfs; its /init prints <paramref name="Marker"/> on the console and reboots.</param>
    /// <param name="CommandLine">The kernel command line both VMMs pass.</param>
    /// <param name="MemoryBytes">Guest RAM.</param>
    /// <param name="Vcpus">vCPUs.</param>
    /// <param name="Marker">The text that ends a boot once a line holds it.</param>
    /// <param name="Qemu">The QEMU executable.</param>
    /// <param name="Timeout">Longest a single boot may take.</param>
    public sealed record Settings(string Kernel, string Initrd, string CommandLine, ulong MemoryBytes, int Vcpus, string Marker, string Qemu, TimeSpan Timeout);

    /// <summary>The fewest timed rounds the bench runs: fewer and one slow round (a busy shared machine) moves the median.</summary>
    public const int MinimumRuns = 5;

    /// <summary>
    /// Boots each side once untimed (the process's JIT, the kernel and initramfs read into the page cache, QEMU's
    /// executable and firmware files read), then runs <paramref name="runs"/> rounds (Actorvisor, QEMU, Actorvisor with
    /// pci=off) and returns the figures; progress goes to <paramref name="log"/>. Every timed figure is printed as its
    /// median with min and max over the rounds; the ratios are taken round by round (each Actorvisor boot over the QEMU
    /// boot of the same round, which ran under the same load) and then summarised the same way.
    /// </summary>
    public static IReadOnlyList<(string Key, string Value)> Run(Settings settings, int runs, TextWriter log)
    {
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(log);
        var actorvisor = new RoundSamples("boot.actorvisor_s", "0.00");
        var qemu = new RoundSamples("boot.qemu_s", "0.00");
        var defaults = new RoundSamples("boot.actorvisor_pci_off_s", "0.00");
        var ratio = new RoundSamples("boot.ratio", "0.000");
        var defaultsRatio = new RoundSamples("boot.defaults_ratio", "0.000");
        var actorvisorUptime = new RoundSamples("boot.actorvisor_guest_uptime_s", "0.00");
        var qemuUptime = new RoundSamples("boot.qemu_guest_uptime_s", "0.00");
        var defaultsUptime = new RoundSamples("boot.actorvisor_pci_off_guest_uptime_s", "0.00");
        var actorvisorExits = new List<IReadOnlyDictionary<string, long>>();
        var qemuExits = new List<IReadOnlyDictionary<string, long>>();
        var defaultsExits = new List<IReadOnlyDictionary<string, long>>();
        string pciOff = settings.CommandLine.Contains("pci=off", StringComparison.Ordinal) ? settings.CommandLine : settings.CommandLine + " pci=off";

        var warmActorvisor = BootActorvisor(settings, settings.CommandLine);
        log.WriteLine($"bench boot: warm-up (not counted): actorvisor {warmActorvisor.Seconds:0.00} s, guest uptime {warmActorvisor.GuestUptime} s");
        var warmQemu = BootQemu(settings);
        log.WriteLine($"bench boot: warm-up (not counted): qemu {warmQemu.Seconds:0.00} s, guest uptime {warmQemu.GuestUptime} s");

        for (int round = 1; round <= runs; round++)
        {
            var a = BootActorvisor(settings, settings.CommandLine);
            actorvisor.Add(a.Seconds);
            actorvisorExits.Add(a.Exits);
            if (a.GuestUptime is { } au) actorvisorUptime.Add(au);
            log.WriteLine($"bench boot: round {round}: actorvisor {a.Seconds:0.00} s, guest uptime {a.GuestUptime} s ({Describe(a.Exits)})");
            var q = BootQemu(settings);
            qemu.Add(q.Seconds);
            qemuExits.Add(q.Exits);
            if (q.GuestUptime is { } qu) qemuUptime.Add(qu);
            log.WriteLine($"bench boot: round {round}: qemu {q.Seconds:0.00} s, guest uptime {q.GuestUptime} s ({Describe(q.Exits)})");
            var d = BootActorvisor(settings, pciOff);
            defaults.Add(d.Seconds);
            defaultsExits.Add(d.Exits);
            if (d.GuestUptime is { } du) defaultsUptime.Add(du);
            log.WriteLine($"bench boot: round {round}: actorvisor with pci=off {d.Seconds:0.00} s, guest uptime {d.GuestUptime} s ({Describe(d.Exits)})");
            ratio.Add(a.Seconds / q.Seconds);
            defaultsRatio.Add(d.Seconds / q.Seconds);
            log.WriteLine($"bench boot: round {round}: ratio {a.Seconds / q.Seconds:0.000}, pci=off ratio {d.Seconds / q.Seconds:0.000}");
        }

        var figures = new List<(string, string)>
        {
            ("boot.kernel", settings.Kernel),
            ("boot.cmdline", settings.CommandLine),
            ("boot.memory_mib", (settings.MemoryBytes >> 20).ToString(CultureInfo.InvariantCulture)),
            ("boot.vcpus", settings.Vcpus.ToString(CultureInfo.InvariantCulture)),
            ("boot.runs", runs.ToString(CultureInfo.InvariantCulture)),
            ("boot.warmup_actorvisor_s", warmActorvisor.Seconds.ToString("0.00", CultureInfo.InvariantCulture)),
            ("boot.warmup_qemu_s", warmQemu.Seconds.ToString("0.00", CultureInfo.InvariantCulture)),
        };
        figures.AddRange(actorvisor.Figures());
        figures.AddRange(qemu.Figures());
        figures.AddRange(ratio.Figures());
        foreach (var uptime in new[] { actorvisorUptime, qemuUptime })
            if (uptime.Values.Count > 0) figures.AddRange(uptime.Figures());
        figures.AddRange(ExitFigures("boot.exits", actorvisorExits));
        figures.AddRange(ExitFigures("boot.qemu_exits", qemuExits));
        figures.Add(("boot.defaults_cmdline", pciOff));
        figures.AddRange(defaults.Figures());
        figures.AddRange(defaultsRatio.Figures());
        if (defaultsUptime.Values.Count > 0) figures.AddRange(defaultsUptime.Figures());
        figures.AddRange(ExitFigures("boot.defaults_exits", defaultsExits));
        return figures;
    }

    private static BootRun BootActorvisor(Settings s, string commandLine)
    {
        var marker = new MarkerSink(s.Marker);
        marker.StartClock();
        using var accel = KvmAccelerator.Open();
        using var machine = Machine.Create(accel, new MachineSpec
        {
            Image = new LinuxKernelImage(s.Kernel, s.Initrd, commandLine, s.Vcpus), MemoryBytes = s.MemoryBytes, VcpuCount = s.Vcpus,
        }, marker);
        IReadOnlyDictionary<string, long>? kvm = null;
        var atMarker = marker.Seen.ContinueWith(_ => kvm = ReadKvmStats(), TaskScheduler.Default);
        var result = machine.Run(s.Timeout);
        if (!marker.Seen.IsCompleted)
            throw new InvalidOperationException($"Actorvisor's boot did not reach the marker '{s.Marker}': {result}; console tail:\n{Tail(result.ConsoleOutput)}");
        atMarker.Wait();
        var exits = new Dictionary<string, long>
        {
            ["io"] = machine.Vcpus.Sum(v => v.ExitCounts is { } c ? Volatile.Read(ref c.PortIo) : 0),
            ["mmio"] = machine.Vcpus.Sum(v => v.ExitCounts is { } c ? Volatile.Read(ref c.Mmio) : 0),
        };
        foreach (var (k, v) in kvm ?? new Dictionary<string, long>()) exits["kvm." + (k == "exits" ? "total" : k)] = v;
        return new BootRun(marker.Seconds, exits, marker.GuestUptime);
    }

    private static BootRun BootQemu(Settings s)
    {
        var marker = new MarkerSink(s.Marker);
        var start = new ProcessStartInfo(s.Qemu)
        {
            RedirectStandardOutput = true, RedirectStandardInput = true, RedirectStandardError = true, UseShellExecute = false,
        };
        foreach (var arg in new[]
                 {
                     "-accel", "kvm", "-cpu", "host", "-M", "pc", "-m", $"{s.MemoryBytes >> 20}M", "-smp", s.Vcpus.ToString(CultureInfo.InvariantCulture),
                     "-nodefaults", "-no-user-config", "-display", "none", "-no-reboot", "-serial", "stdio",
                     "-kernel", s.Kernel, "-initrd", s.Initrd, "-append", s.CommandLine,
                 })
        {
            start.ArgumentList.Add(arg);
        }
        marker.StartClock();
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"cannot start {s.Qemu}");
        var errors = process.StandardError.ReadToEndAsync();
        var pump = Task.Run(() =>
        {
            var buffer = new byte[4096];
            var stdout = process.StandardOutput.BaseStream;
            int n;
            while ((n = stdout.Read(buffer)) > 0) marker.Write(buffer.AsSpan(0, n));
        });
        bool reached = marker.Seen.Wait(s.Timeout);
        var kvm = reached ? ReadKvmStats() : null;
        if (!process.WaitForExit(s.Timeout))
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit();
        }
        pump.Wait(TimeSpan.FromSeconds(10));
        if (!reached)
            throw new InvalidOperationException($"QEMU's boot did not reach the marker '{s.Marker}' (exit code {process.ExitCode}); stderr: {errors.Result.Trim()}; console tail:\n{Tail(marker.Text)}");
        var exits = new Dictionary<string, long>();
        foreach (var (k, v) in kvm ?? new Dictionary<string, long>()) exits["kvm." + (k == "exits" ? "total" : k)] = v;
        return new BootRun(marker.Seconds, exits, marker.GuestUptime);
    }

    // KVM's VM-wide statistics (debugfs), or empty where they cannot be read (not root, debugfs not mounted).
    private static Dictionary<string, long> ReadKvmStats()
    {
        var stats = new Dictionary<string, long>();
        foreach (var name in KvmStats)
        {
            try
            {
                var text = File.ReadAllText(Path.Combine(KvmStatsDirectory, name)).Trim();
                if (long.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value)) stats[name] = value;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // not readable here: reported without it
            }
        }
        return stats;
    }

    // Each exit reason's count over the rounds: median, min and max.
    private static IEnumerable<(string Key, string Value)> ExitFigures(string prefix, List<IReadOnlyDictionary<string, long>> runs)
    {
        foreach (var key in runs.SelectMany(r => r.Keys).Distinct().Order(StringComparer.Ordinal))
        {
            var samples = new RoundSamples($"{prefix}.{key}", "0");
            foreach (var run in runs)
                if (run.TryGetValue(key, out var count)) samples.Add(count);
            foreach (var figure in samples.Figures()) yield return figure;
        }
    }

    private static string Describe(IReadOnlyDictionary<string, long> exits) =>
        exits.Count == 0 ? "no exit counts" : string.Join(", ", exits.OrderBy(e => e.Key, StringComparer.Ordinal).Select(e => $"{e.Key}={e.Value}"));

    private static string Tail(string text) => text.Length > 2000 ? text[^2000..] : text;

    /// <summary>Collects a console and completes <see cref="Seen"/> (noting the clock) at the first whole line holding the marker.</summary>
    private sealed class MarkerSink(string marker) : IConsoleSink
    {
        private readonly object _gate = new();
        private readonly StringBuilder _text = new();
        private readonly TaskCompletionSource _seen = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private long _startedAt;
        private long _seenAt;

        public Task Seen => _seen.Task;

        /// <summary>The guest's own uptime at the marker, when the marker line says it (<c>uptime_s=SECONDS</c>).</summary>
        public double? GuestUptime { get; private set; }

        public string Text
        {
            get { lock (_gate) return _text.ToString(); }
        }

        /// <summary>Starts the clock the marker is timed on.</summary>
        public void StartClock() => Interlocked.Exchange(ref _startedAt, Stopwatch.GetTimestamp());

        /// <summary>Seconds from <see cref="StartClock"/> to the marker.</summary>
        public double Seconds => Stopwatch.GetElapsedTime(Interlocked.Read(ref _startedAt), Interlocked.Read(ref _seenAt)).TotalSeconds;

        public void Write(ReadOnlySpan<byte> bytes)
        {
            long now = Stopwatch.GetTimestamp();
            lock (_gate)
            {
                _text.Append(Encoding.Latin1.GetString(bytes));
                if (_seen.Task.IsCompleted || bytes.IndexOf((byte)'\n') < 0) return;
                var all = _text.ToString();
                int at = all.IndexOf(marker, StringComparison.Ordinal);
                if (at < 0 || all.IndexOf('\n', at) < 0) return;
                Interlocked.Exchange(ref _seenAt, now);
                var uptime = System.Text.RegularExpressions.Regex.Match(all[at..all.IndexOf('\n', at)], @"uptime_s=([0-9.]+)");
                if (uptime.Success && double.TryParse(uptime.Groups[1].Value, NumberStyles.Float, CultureInfo.InvariantCulture, out var seconds)) GuestUptime = seconds;
                _seen.TrySetResult();
            }
        }
    }
}
