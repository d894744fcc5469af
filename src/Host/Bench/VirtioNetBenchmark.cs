using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using Actorvisor.Hardware.Devices;
using Actorvisor.Hardware.Devices.Virtio;
using Actorvisor.Hardware.Images.Linux;
using Actorvisor.Hardware.Kvm;
using Actorvisor.Hardware.Machines;
using Actorvisor.Hardware.Native;

namespace Actorvisor.Host.Bench;

/// <summary>
/// virtio-net's round trip: the same Linux kernel and initramfs booted by Actorvisor (a virtio-mmio card on a tap, on
/// KVM's PC platform) and by QEMU (<c>-M microvm</c>, <c>-netdev tap</c> and <c>-device virtio-net-device</c>: virtio-mmio
/// too, announced in its ACPI DSDT the same way), alternating, one untimed warm-up of each first. The guest's /init
/// brings eth0 up at <see cref="GuestAddress"/> and prints <see cref="Marker"/>; the bench then moves the tap into a
/// network namespace of its own (<see cref="HostAddress"/>; nothing leaves the machine) and pings the guest from there
/// (busybox ping -A: each echo sent when the last reply came, after a warm-up of 5 for ARP and caches), and reads the
/// average round trip. Figures: <c>virtio.net_rtt_us</c>, <c>virtio.net_rtt_us_qemu</c>, their ratio round by round
/// (<c>virtio.net_ratio</c>, Actorvisor over QEMU: lower is better), and the notifications that reached Actorvisor's
/// vCPU thread (0 on KVM). The second part of `actorvisor bench virtio` (<see cref="VirtioBenchmark"/>).
/// </summary>
public static partial class VirtioNetBenchmark
{
    /// <summary>The console line the guest prints once eth0 is up.</summary>
    public const string Marker = "ACTORVISOR-NET-UP";
    /// <summary>The host side of the link (in the bench's namespace).</summary>
    public const string HostAddress = "10.233.0.1";
    /// <summary>The guest's address, which its /init sets.</summary>
    public const string GuestAddress = "10.233.0.2";
    /// <summary>The guest card's address, the same on both VMMs.</summary>
    public static readonly MacAddress GuestMac = MacAddress.Parse("52:54:00:12:34:56");

    /// <summary>The run's settings, the same for both VMMs.</summary>
    /// <param name="Kernel">The bzImage.</param>
    /// <param name="Initrd">The initramfs (tests/kvm-harness/bench-virtio.sh builds it).</param>
    /// <param name="CommandLine">The kernel command line both VMMs pass.</param>
    /// <param name="MemoryBytes">Guest RAM.</param>
    /// <param name="Pings">Echo requests timed per boot.</param>
    /// <param name="Qemu">The QEMU executable.</param>
    /// <param name="Timeout">Longest a boot to the marker may take.</param>
    public sealed record Settings(string Kernel, string Initrd, string CommandLine, ulong MemoryBytes, int Pings, string Qemu, TimeSpan Timeout);

    /// <summary>
    /// Runs a warm-up boot of each side, then <paramref name="runs"/> rounds (Actorvisor, then QEMU); progress goes to
    /// <paramref name="log"/>. The notifications are those of the timed Actorvisor boots that reached the vCPU thread.
    /// </summary>
    internal static VirtioBenchmark.PartFigures Run(Settings settings, int runs, TextWriter log)
    {
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(log);
        if (NetworkNamespace.Unavailable is { } why) throw new InvalidOperationException($"bench virtio (network part): {why}");
        var ours = new RoundSamples("virtio.net_rtt_us", "0");
        var qemu = new RoundSamples("virtio.net_rtt_us_qemu", "0");
        var ratio = new RoundSamples("virtio.net_ratio", "0.00");
        long notifyExits = 0;
        var (warmOurs, _) = Actorvisor(settings);
        var warmQemu = Qemu(settings);
        log.WriteLine($"bench virtio: net warm-up (not counted): actorvisor {warmOurs:0} us, qemu {warmQemu:0} us");
        for (int round = 1; round <= runs; round++)
        {
            var (a, exits) = Actorvisor(settings);
            var q = Qemu(settings);
            ours.Add(a);
            qemu.Add(q);
            ratio.Add(a / q);
            notifyExits += exits;
            log.WriteLine($"bench virtio: net round {round}: actorvisor {a:0} us ({exits} notify exits to the vCPU), qemu {q:0} us");
        }
        return new VirtioBenchmark.PartFigures(
            [("virtio.net_pings", settings.Pings.ToString(CultureInfo.InvariantCulture)), .. ours.Figures(), .. qemu.Figures(), .. ratio.Figures()], notifyExits, 0);
    }

    private static (double RttMicros, long NotifyExits) Actorvisor(Settings s)
    {
        var tap = TapName();
        using var ns = NetworkNamespace.Create("avb");
        var console = new MarkerConsole(Marker);
        using var accel = KvmAccelerator.Open();
        using var machine = Machine.Create(accel, new MachineSpec
        {
            Image = new LinuxKernelImage(s.Kernel, s.Initrd, s.CommandLine, 1), MemoryBytes = s.MemoryBytes, VcpuCount = 1,
            Nets = [new VirtioNetSpec { Tap = tap, Mac = GuestMac }],
        }, console);
        using var stop = new CancellationTokenSource();
        var run = Task.Run(() => machine.Run(s.Timeout, stop.Token));
        try
        {
            if (Task.WaitAny([console.Seen, run], s.Timeout) != 0 || !console.Seen.IsCompleted)
                throw new InvalidOperationException($"Actorvisor's guest did not bring eth0 up; console tail:\n{console.Tail}");
            double rtt = PingFromNamespace(ns, tap, s.Pings);
            return (rtt, machine.Parts.Virtio.NotifyExitsToVcpu);
        }
        finally
        {
            stop.Cancel();
            try { run.Wait(Machine.StopGrace * 2); }
            catch (AggregateException e) when (e.InnerException is OperationCanceledException) { }
        }
    }

    private static double Qemu(Settings s)
    {
        var tap = TapName();
        using var ns = NetworkNamespace.Create("avb");
        var console = new MarkerConsole(Marker);
        var start = new ProcessStartInfo(s.Qemu) { RedirectStandardOutput = true, RedirectStandardInput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in new[]
                 {
                     "-accel", "kvm", "-cpu", "host", "-M", "microvm,acpi=on", "-m", $"{s.MemoryBytes >> 20}M", "-smp", "1",
                     "-nodefaults", "-no-user-config", "-display", "none", "-no-reboot", "-serial", "stdio",
                     "-kernel", s.Kernel, "-initrd", s.Initrd, "-append", s.CommandLine,
                     "-netdev", $"tap,id=n0,ifname={tap},script=no,downscript=no", "-device", $"virtio-net-device,netdev=n0,mac={GuestMac}",
                 })
        {
            start.ArgumentList.Add(arg);
        }
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"cannot start {s.Qemu}");
        var errors = process.StandardError.ReadToEndAsync();
        var pump = Task.Run(() =>
        {
            var buffer = new byte[4096];
            int n;
            while ((n = process.StandardOutput.BaseStream.Read(buffer)) > 0) console.Write(buffer.AsSpan(0, n));
        });
        try
        {
            if (!console.Seen.Wait(s.Timeout))
                throw new InvalidOperationException($"QEMU's guest did not bring eth0 up (exited: {process.HasExited}); stderr: {(process.HasExited ? errors.Result.Trim() : "")}; console tail:\n{console.Tail}");
            return PingFromNamespace(ns, tap, s.Pings);
        }
        finally
        {
            if (!process.HasExited) process.Kill(entireProcessTree: true);
            process.WaitForExit();
            pump.Wait(TimeSpan.FromSeconds(10));
        }
    }

    // The tap (made by the VMM in this namespace) moves into the bench's namespace; busybox ping's average, in µs.
    private static double PingFromNamespace(NetworkNamespace ns, string tap, int pings)
    {
        ns.Adopt(tap, HostAddress + "/24");
        ns.Exec("/usr/bin/busybox", "ping", "-q", "-c", "5", "-W", "30", GuestAddress);
        var output = ns.Exec("/usr/bin/busybox", "ping", "-q", "-A", "-c", pings.ToString(CultureInfo.InvariantCulture), "-W", "30", GuestAddress);
        var m = RoundTrip().Match(output);
        if (!m.Success) throw new InvalidOperationException($"no round-trip line in ping's output: {output}");
        if (!output.Contains($"{pings} packets received", StringComparison.Ordinal))
            throw new InvalidOperationException($"replies were lost: {output}");
        return double.Parse(m.Groups["avg"].Value, CultureInfo.InvariantCulture) * 1000;
    }

    private static string TapName() => $"avb{Guid.NewGuid():N}"[..12];

    [GeneratedRegex(@"round-trip min/avg/max = [0-9.]+/(?<avg>[0-9.]+)/[0-9.]+ ms")]
    private static partial Regex RoundTrip();

    /// <summary>A console that completes <see cref="Seen"/> at the first whole line holding the marker.</summary>
    private sealed class MarkerConsole(string marker) : IConsoleSink
    {
        private readonly object _gate = new();
        private readonly StringBuilder _text = new();
        private readonly TaskCompletionSource _seen = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task Seen => _seen.Task;

        public string Tail
        {
            get
            {
                lock (_gate) return _text.Length > 3000 ? _text.ToString(_text.Length - 3000, 3000) : _text.ToString();
            }
        }

        public void Write(ReadOnlySpan<byte> bytes)
        {
            lock (_gate)
            {
                _text.Append(Encoding.Latin1.GetString(bytes));
                if (_seen.Task.IsCompleted || bytes.IndexOf((byte)'\n') < 0) return;
                var all = _text.ToString();
                int at = all.IndexOf(marker, StringComparison.Ordinal);
                if (at >= 0 && all.IndexOf('\n', at) >= 0) _seen.TrySetResult();
            }
        }
    }
}
