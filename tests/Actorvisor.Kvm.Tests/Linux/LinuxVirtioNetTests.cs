using System.Diagnostics;
using System.Text.RegularExpressions;
using Actorvisor.Hardware.Devices;
using Actorvisor.Hardware.Devices.Virtio;
using Actorvisor.Hardware.Images.Linux;
using Actorvisor.Hardware.Kvm;
using Actorvisor.Hardware.Machines;
using Actorvisor.Hardware.Native;
using Actorvisor.Hardware.Tests.Devices.Virtio;

namespace Actorvisor.Kvm.Tests.Linux;

/// <summary>
/// Boots the L1's Debian kernel with a virtio-net card on a tap the machine creates, which the test then moves into a
/// network namespace of its own (10.232.0.1/24; nothing leaves the L1) where busybox httpd serves a file with a random
/// token. The guest loads virtio_mmio and virtio_net (the card found through the ACPI DSDT), takes 10.232.0.2, pings
/// the namespace's address and fetches the file with busybox nc (an HTTP/1.0 GET: the static busybox's wget
/// segfaults looking up the http service through NSS).
/// </summary>
public sealed partial class LinuxVirtioNetTests : IDisposable
{
    private const ulong MemoryBytes = 256UL << 20;
    // Measured in the nested harness: 42.9 s to reset, but 508 s once with the shared machine loaded (the L1 under TCG).
    // The bound only catches a hang.
    private static readonly TimeSpan BootBound = TimeSpan.FromSeconds(1500);
    private const string CommandLine = "console=ttyS0 reboot=k panic=-1 pci=off quiet no_timer_check i8042.noaux i8042.nomux i8042.nopnp i8042.dumbkbd";
    private static readonly string[] Modules = ["virtio_mmio", "virtio_net"];
    private static readonly MacAddress GuestMac = MacAddress.Parse("52:54:00:ab:cd:02");

    // Brings the card up at 10.232.0.2, pings the host side three times and fetches /token.txt from it with nc.
    private const string Init = """
            #!/bin/busybox sh
            /bin/busybox --install -s /bin
            export PATH=/bin
            mkdir -p /proc /sys /tmp
            mount -t proc proc /proc
            mount -t sysfs sys /sys
            mount -t devtmpfs dev /dev
            for m in $(cat /modules.order); do insmod /modules/$m || echo "ACTORVISOR-FAILED insmod $m"; done
            i=0
            while [ ! -e /sys/class/net/eth0 ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
            echo "ACTORVISOR-NET-MAC $(cat /sys/class/net/eth0/address) uptime=$(cut -d' ' -f1 /proc/uptime)"
            ip link set lo up
            ip addr add 10.232.0.2/24 dev eth0
            ip link set eth0 up
            if ping -c 3 -W 20 10.232.0.1 >/tmp/ping 2>&1; then
              echo "ACTORVISOR-PING $(grep -m1 'packets transmitted' /tmp/ping) uptime=$(cut -d' ' -f1 /proc/uptime)"
            else
              echo "ACTORVISOR-FAILED ping"; cat /tmp/ping; ip addr; ip link; dmesg | tail -n 30
            fi
            # nc, not wget: this static busybox's wget looks the "http" service up through glibc's NSS, which a static
            # binary cannot load in an initramfs (it segfaults); nc with a numeric port looks nothing up.
            printf 'GET /token.txt HTTP/1.0\r\n\r\n' | nc -w 30 10.232.0.1 8080 >/tmp/response 2>&1
            if grep -q '200 OK' /tmp/response; then
              echo "ACTORVISOR-FETCHED $(tail -n 1 /tmp/response) uptime=$(cut -d' ' -f1 /proc/uptime)"
            else
              echo "ACTORVISOR-FAILED nc: $(head -c 300 /tmp/response)"
            fi
            reboot -f
            """;

    private readonly string _dir = Directory.CreateTempSubdirectory("actorvisor-virtio-net-").FullName;
    private readonly Stopwatch _sinceStart = Stopwatch.StartNew();
    private readonly Timer _heartbeat;

    // The harness fails an L1 whose console stays silent for KVM_HARNESS_SILENCE seconds; a nested boot can be quiet that long.
    public LinuxVirtioNetTests() =>
        _heartbeat = new Timer(_ => Console.WriteLine($"KVMHARNESS linux-virtio-net: still running after {_sinceStart.Elapsed.TotalSeconds:0} s"),
            null, TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(30));

    public void Dispose()
    {
        _heartbeat.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    [Fact]
    public void Debian_kernel_finds_the_virtio_net_card_through_acpi_pings_the_host_side_and_fetches_a_file_over_http()
    {
        EnsureTun();
        Assert.True(NetworkNamespace.Unavailable is null, NetworkNamespace.Unavailable);
        var (kernel, moduleDir) = LinuxTestInitramfs.L1Kernel();
        var initrd = Path.Combine(_dir, "initramfs.cpio");
        File.WriteAllBytes(initrd, LinuxTestInitramfs.Build(moduleDir, Modules, Init));
        var web = Directory.CreateDirectory(Path.Combine(_dir, "www")).FullName;
        var token = Guid.NewGuid().ToString("N");
        File.WriteAllText(Path.Combine(web, "token.txt"), token + "\n");

        var tap = $"avk{Guid.NewGuid():N}"[..12];
        using var ns = NetworkNamespace.Create();
        var console = new CapturingConsoleSink();
        using var accel = KvmAccelerator.Open();
        using var machine = Machine.Create(accel, new MachineSpec
        {
            Image = new LinuxKernelImage(kernel, initrd, CommandLine), MemoryBytes = MemoryBytes, VcpuCount = 1,
            Nets = [new VirtioNetSpec { Tap = tap, Mac = GuestMac }],
        }, console);
        // The machine created the tap in the L1's namespace; the host side of the link lives in the test's.
        ns.Adopt(tap, "10.232.0.1/24");
        ns.Start("/usr/bin/busybox", "httpd", "-f", "-p", "10.232.0.1:8080", "-h", web);

        var wall = Stopwatch.StartNew();
        var result = machine.Run(BootBound);
        var output = result.ConsoleOutput;
        var card = (VirtioNet)machine.Parts.Virtio.Transports.Single().Device;
        Console.WriteLine($"KVMHARNESS linux-virtio-net: boot to reset in {wall.Elapsed.TotalSeconds:0.00} s, {card.FramesTransmitted} frames sent, {card.FramesReceived} received; guest lines: " +
                          string.Join(" | ", output.Split('\n').Where(l => l.Contains("ACTORVISOR-", StringComparison.Ordinal)).Select(l => l.TrimEnd('\r'))));
        Assert.True(result.Outcome == MachineOutcome.Reset, $"outcome {result}; console tail:\n{Tail(output)}");
        Assert.DoesNotContain("ACTORVISOR-FAILED", output);
        Assert.Contains($"ACTORVISOR-NET-MAC {GuestMac}", output);
        Assert.Matches(PingLine(), output);
        Assert.Contains($"ACTORVISOR-FETCHED {token} ", output);
        Assert.True(card.FramesTransmitted >= 3 && card.FramesReceived >= 3, $"{card.FramesTransmitted} sent, {card.FramesReceived} received");
        Assert.Equal(0, machine.Parts.Virtio.NotifyExitsToVcpu);
        Assert.Equal(0, machine.Parts.Virtio.Transports.Single().Faults);
    }

    // The L1 loads only the harness's modules at boot; tun comes from its /lib/modules.
    private static void EnsureTun()
    {
        if (File.Exists("/dev/net/tun")) return;
        using var p = Process.Start(new ProcessStartInfo("/usr/sbin/modprobe", "tun") { RedirectStandardError = true })!;
        var error = p.StandardError.ReadToEnd();
        p.WaitForExit();
        Assert.True(p.ExitCode == 0 && File.Exists("/dev/net/tun"), $"modprobe tun exited {p.ExitCode}: {error}");
    }

    private static string Tail(string output) => output.Length > 4000 ? output[^4000..] : output;

    [GeneratedRegex(@"ACTORVISOR-PING 3 packets transmitted, 3 (packets )?received")]
    private static partial Regex PingLine();
}
