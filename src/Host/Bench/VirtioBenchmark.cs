using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using Actorvisor.Hardware.Devices;
using Actorvisor.Hardware.Images.Linux;
using Actorvisor.Hardware.Kvm;
using Actorvisor.Hardware.Machines;

namespace Actorvisor.Host.Bench;

/// <summary>
/// `actorvisor bench virtio`: the same Linux kernel and initramfs booted by Actorvisor (a <see cref="Machine"/> on KVM's
/// PC platform with the disk as virtio-blk over virtio-mmio) and by QEMU (<c>qemu-system-x86_64 -accel kvm -M pc
/// -drive if=virtio</c>: virtio-blk over PCI), alternating after one untimed boot of each, each boot reading the whole disk twice in the guest with
/// <c>dd bs=1M iflag=direct</c> (the first read warms the host's page cache, the JIT and the driver; the second is
/// timed by the guest's /proc/uptime, to 10 ms, and printed on the console with a marker). Figures: MB/s (10^6 bytes) on each side (median, min, max),
/// their ratio round by round, then virtio-net's round trips (<see cref="VirtioNetBenchmark"/>, when its initramfs is
/// given), and the queue notifications that reached Actorvisor's vCPU thread in both parts (0 when KVM's ioeventfds take
/// them all).
/// </summary>
public static partial class VirtioBenchmark
{
    /// <summary>The console line the guest prints after the timed read: <c>ACTORVISOR-VIRTIO-BLK bytes=N start_s=UPTIME end_s=UPTIME</c>.</summary>
    public const string BlockMarker = "ACTORVISOR-VIRTIO-BLK";

    /// <summary>The console line the guest prints just before the timed read (the bench takes the CPU accounting then).</summary>
    public const string TimedReadStartMarker = "ACTORVISOR-VIRTIO-BLK-TIMED";

    /// <summary>Most untimed Actorvisor boots before the timed rounds (the JIT's tiering of the path may take more than one).</summary>
    public const int MaxWarmUps = 4;

    /// <summary>The share of a timed read under which the JIT compiler thread counts as quiet (warm-up done).</summary>
    public const double JitQuietShare = 0.02;

    /// <summary>The fewest timed rounds: fewer and one slow round (a busy shared machine) moves the median.</summary>
    public const int MinimumRuns = 5;

    /// <summary>The bench's settings, the same for both VMMs.</summary>
    /// <param name="Kernel">The bzImage.</param>
    /// <param name="Initrd">The initramfs; its /init loads virtio_mmio, virtio_pci and virtio_blk, reads /dev/vda twice with dd and prints <see cref="BlockMarker"/> with the disk's size and its uptime around the second read, then reboots.</param>
    /// <param name="CommandLine">The kernel command line both VMMs pass (no pci=off: QEMU's disk is a PCI device).</param>
    /// <param name="MemoryBytes">Guest RAM.</param>
    /// <param name="DiskBytes">Size of the disk image the guest reads (filled with non-zero bytes, so no read is of a hole).</param>
    /// <param name="WorkDirectory">Where the disk image is written (and deleted afterwards).</param>
    /// <param name="Qemu">The QEMU executable.</param>
    /// <param name="Timeout">Longest a single boot may take.</param>
    /// <param name="Net">virtio-net's round-trip part, or null to leave it out.</param>
    public sealed record Settings(string Kernel, string Initrd, string CommandLine, ulong MemoryBytes, long DiskBytes, string WorkDirectory, string Qemu, TimeSpan Timeout,
        VirtioNetBenchmark.Settings? Net = null);

    /// <summary>What one boot measured: the guest's timed read and, on Actorvisor, the notifications that exited to the vCPU.</summary>
    private sealed record ReadRun(double MegabytesPerSecond, long Bytes, double Seconds, long NotifyExitsToVcpu, long EventFdNotifications)
    {
        /// <summary>Port I/O and MMIO exits the vCPUs took to Actorvisor over the whole boot (both reads and the rest).</summary>
        public (long PortIo, long Mmio) VcpuExits { get; init; }

        /// <summary>Interrupts the disk sent over the whole boot.</summary>
        public long Interrupts { get; init; }

        /// <summary>Where the host's CPU went during the timed read (<see cref="CpuAccounting.Describe"/>), or why it is not known.</summary>
        public string Cpu { get; init; } = "not measured";

        /// <summary>Milliseconds the process's tiered JIT compiler thread ran during the timed read (Actorvisor's side; NaN if not measured).</summary>
        public double JitMilliseconds { get; init; } = double.NaN;
    }

    /// <summary>
    /// Writes the disk image, runs <paramref name="runs"/> rounds of the block read (an Actorvisor boot, then a QEMU boot),
    /// then as many of virtio-net's round trips if <see cref="Settings.Net"/> is set, and returns the figures; progress goes
    /// to <paramref name="log"/>.
    /// </summary>
    public static IReadOnlyList<(string Key, string Value)> Run(Settings settings, int runs, TextWriter log)
    {
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(log);
        var disk = Path.Combine(settings.WorkDirectory, $"virtio-bench-{Environment.ProcessId}.img");
        WriteDisk(disk, settings.DiskBytes);
        try
        {
            var figures = new List<(string, string)>
            {
                ("virtio.kernel", settings.Kernel),
                ("virtio.cmdline", settings.CommandLine),
                ("virtio.memory_mib", (settings.MemoryBytes >> 20).ToString(CultureInfo.InvariantCulture)),
                ("virtio.runs", runs.ToString(CultureInfo.InvariantCulture)),
            };
            var block = BlockRead(settings, disk, runs, log);
            figures.AddRange(block.Figures);
            var net = settings.Net is { } netSettings ? VirtioNetBenchmark.Run(netSettings, runs, log) : null;
            if (net is not null) figures.AddRange(net.Figures);
            figures.Add(("virtio.notify_exits_to_vcpu", (block.NotifyExitsToVcpu + (net?.NotifyExitsToVcpu ?? 0)).ToString(CultureInfo.InvariantCulture)));
            figures.Add(("virtio.blk_notify_exits_to_vcpu", block.NotifyExitsToVcpu.ToString(CultureInfo.InvariantCulture)));
            if (net is not null) figures.Add(("virtio.net_notify_exits_to_vcpu", net.NotifyExitsToVcpu.ToString(CultureInfo.InvariantCulture)));
            figures.Add(("virtio.blk_notify_eventfd", block.EventFdNotifications.ToString(CultureInfo.InvariantCulture)));
            return figures;
        }
        finally
        {
            File.Delete(disk);
        }
    }

    /// <summary>A part's figures and the queue notifications its Actorvisor boots saw: on the vCPU thread, and through ioeventfds.</summary>
    internal sealed record PartFigures(IReadOnlyList<(string Key, string Value)> Figures, long NotifyExitsToVcpu, long EventFdNotifications);

    private static PartFigures BlockRead(Settings settings, string disk, int runs, TextWriter log)
    {
        var actorvisor = new RoundSamples("virtio.blk_read_mbps", "0.0");
        var qemu = new RoundSamples("virtio.blk_read_mbps_qemu", "0.0");
        var ratio = new RoundSamples("virtio.blk_ratio", "0.000");
        long notifyExits = 0, eventFdNotifications = 0;
        // Untimed boots of each side first. Actorvisor's boots also pay the JIT's tiering of the whole path, which goes on
        // in the background for more than one boot in the emulated L1 (its compiler thread took 2 s of a 6.5 s timed
        // read in the boot after the first), so Actorvisor warms up until that thread used under 2% of a boot's timed
        // read, at most MaxWarmUps boots.
        var warmQemu = ReadOnQemu(settings, disk);
        for (int warm = 1; ; warm++)
        {
            var w = ReadOnActorvisor(settings, disk);
            double jitShare = w.JitMilliseconds / (w.Seconds * 1000);
            log.WriteLine($"bench virtio: block warm-up {warm} (not counted): actorvisor {w.MegabytesPerSecond:0.0} MB/s, its JIT thread {w.JitMilliseconds:0} ms in the timed read ({jitShare:P1}); qemu's warm-up {warmQemu.MegabytesPerSecond:0.0} MB/s");
            if (!(jitShare >= JitQuietShare) || warm == MaxWarmUps) break;
        }
        for (int round = 1; round <= runs; round++)
        {
            var a = ReadOnActorvisor(settings, disk);
            actorvisor.Add(a.MegabytesPerSecond);
            notifyExits += a.NotifyExitsToVcpu;
            eventFdNotifications += a.EventFdNotifications;
            log.WriteLine($"bench virtio: round {round}: actorvisor {a.MegabytesPerSecond:0.0} MB/s ({a.Bytes} bytes in {a.Seconds} s; notifications: {a.NotifyExitsToVcpu} to the vCPU, {a.EventFdNotifications} through ioeventfd; whole boot: {a.Interrupts} disk interrupts, {a.VcpuExits.Mmio} MMIO and {a.VcpuExits.PortIo} port I/O exits to Actorvisor); timed read: {a.Cpu}");
            var q = ReadOnQemu(settings, disk);
            qemu.Add(q.MegabytesPerSecond);
            log.WriteLine($"bench virtio: round {round}: qemu {q.MegabytesPerSecond:0.0} MB/s ({q.Bytes} bytes in {q.Seconds} s); timed read: {q.Cpu}");
            ratio.Add(a.MegabytesPerSecond / q.MegabytesPerSecond);
        }
        return new PartFigures(
        [
            ("virtio.blk_disk_mib", (settings.DiskBytes >> 20).ToString(CultureInfo.InvariantCulture)),
            .. actorvisor.Figures(), .. qemu.Figures(), .. ratio.Figures(),
        ], notifyExits, eventFdNotifications);
    }

    private static ReadRun ReadOnActorvisor(Settings s, string disk)
    {
        var timed = new TimedReadAccounting(Environment.ProcessId);
        var console = new LineWatchingConsoleSink(new CapturingConsoleSink(), timed.OnLine);
        using var accel = KvmAccelerator.Open();
        using var machine = Machine.Create(accel, new MachineSpec
        {
            Image = new LinuxKernelImage(s.Kernel, s.Initrd, s.CommandLine), MemoryBytes = s.MemoryBytes, VcpuCount = 1,
            Disks = [new VirtioDiskSpec { Path = disk, ReadOnly = true }],
        }, console);
        var result = machine.Run(s.Timeout);
        var read = Parse("Actorvisor", result.ConsoleOutput, $"{result}");
        return read with
        {
            Cpu = timed.Described,
            JitMilliseconds = timed.OnCpuMilliseconds(JitThreadName),
            NotifyExitsToVcpu = machine.Parts.Virtio.NotifyExitsToVcpu, EventFdNotifications = machine.Parts.Virtio.EventFdNotifications,
            VcpuExits = (machine.Parts.Vcpus.Sum(v => v.ExitCounts?.PortIo ?? 0), machine.Parts.Vcpus.Sum(v => v.ExitCounts?.Mmio ?? 0)),
            Interrupts = machine.Parts.Virtio.Transports.Sum(t => t.InterruptsSent),
        };
    }

    private static ReadRun ReadOnQemu(Settings s, string disk)
    {
        var start = new ProcessStartInfo(s.Qemu)
        {
            RedirectStandardOutput = true, RedirectStandardInput = true, RedirectStandardError = true, UseShellExecute = false,
        };
        foreach (var arg in new[]
                 {
                     "-accel", "kvm", "-cpu", "host", "-M", "pc", "-m", $"{s.MemoryBytes >> 20}M", "-smp", "1",
                     "-nodefaults", "-no-user-config", "-display", "none", "-no-reboot", "-serial", "stdio",
                     // Names QEMU's threads (vCPU, I/O workers) for the timed read's CPU accounting; no other effect.
                     "-name", "bench,debug-threads=on",
                     "-drive", $"file={disk},if=virtio,format=raw,readonly=on",
                     "-kernel", s.Kernel, "-initrd", s.Initrd, "-append", s.CommandLine,
                 })
        {
            start.ArgumentList.Add(arg);
        }
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"cannot start {s.Qemu}");
        var timed = new TimedReadAccounting(process.Id);
        var output = Task.Run(async () =>
        {
            var text = new System.Text.StringBuilder();
            while (await process.StandardOutput.ReadLineAsync() is { } line)
            {
                timed.OnLine(line);
                text.Append(line).Append('\n');
            }
            return text.ToString();
        });
        var errors = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(s.Timeout))
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit();
        }
        return Parse("QEMU", output.Result, $"exit code {process.ExitCode}; stderr: {errors.Result.Trim()}") with { Cpu = timed.Described };
    }

    // The guest's line: "ACTORVISOR-VIRTIO-BLK bytes=268435456 start_s=12.34 end_s=15.67" (its /proc/uptime around the read).
    private static ReadRun Parse(string vmm, string console, string outcome)
    {
        var match = ReadLine().Match(console);
        if (!match.Success)
            throw new InvalidOperationException($"{vmm}'s guest printed no '{BlockMarker}' line with the read's size and times ({outcome}); console tail:\n{(console.Length > 3000 ? console[^3000..] : console)}");
        long bytes = long.Parse(match.Groups["bytes"].Value, CultureInfo.InvariantCulture);
        double seconds = double.Parse(match.Groups["end"].Value, CultureInfo.InvariantCulture) - double.Parse(match.Groups["start"].Value, CultureInfo.InvariantCulture);
        if (seconds <= 0) throw new InvalidOperationException($"{vmm}'s guest timed its read at {seconds} s: {match.Value}");
        return new ReadRun(bytes / seconds / 1e6, bytes, seconds, 0, 0);
    }

    // The .NET runtime's background tier-1 compiler thread, as the kernel names it.
    private const string JitThreadName = ".NET Tiered Compilation Worker";

    /// <summary>
    /// The CPU accounting of one boot's timed read: taken when the guest prints <see cref="TimedReadStartMarker"/> and
    /// again at <see cref="BlockMarker"/>'s line, for the VMM process <c>processId</c> and the host.
    /// </summary>
    private sealed class TimedReadAccounting(int processId)
    {
        private CpuAccounting? _start, _end;
        private KvmVmStats? _kvmStart;

        /// <summary>Milliseconds on a CPU of the threads named <paramref name="threadName"/> during the timed read; NaN if it was not seen.</summary>
        public double OnCpuMilliseconds(string threadName) =>
            _start is { } start && _end is { } end ? CpuAccounting.OnCpuMilliseconds(start, end, threadName) : double.NaN;

        public string Described { get; private set; } = "not measured (no markers seen)";

        public void OnLine(string line)
        {
            if (line.Contains(TimedReadStartMarker, StringComparison.Ordinal))
            {
                _kvmStart = KvmVmStats.Take(processId);
                _start = CpuAccounting.Take(processId);
            }
            else if (line.Contains(BlockMarker + " bytes=", StringComparison.Ordinal) && _start is { } start)
            {
                _end = CpuAccounting.Take(processId);
                var kvm = KvmVmStats.Take(processId);
                Described = $"{CpuAccounting.Describe(start, _end)}; {KvmVmStats.Describe(_kvmStart!, kvm)}";
            }
        }
    }

    // Non-zero, not-all-equal bytes, so the disk has no holes and nothing along the way can skip a run of zeros.
    private static void WriteDisk(string path, long bytes)
    {
        var block = new byte[1 << 20];
        new Random(19).NextBytes(block);
        using var file = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20);
        for (long done = 0; done < bytes; done += block.Length)
            file.Write(block, 0, (int)Math.Min(block.Length, bytes - done));
    }

    [GeneratedRegex(BlockMarker + @" bytes=(?<bytes>\d+) start_s=(?<start>[0-9.]+) end_s=(?<end>[0-9.]+)")]
    private static partial Regex ReadLine();
}
