using System.Diagnostics;
using System.Text.RegularExpressions;
using Actorvisor.Hardware.Devices;
using Actorvisor.Hardware.Images.Linux;
using Actorvisor.Hardware.Kvm;
using Actorvisor.Hardware.Machines;

namespace Actorvisor.Kvm.Tests.Linux;

/// <summary>
/// Boots the L1's Debian kernel (which lacks CONFIG_VIRTIO_MMIO_CMDLINE_DEVICES) with a virtio-blk disk: an ext4 image
/// made here with mkfs.ext4 holding a file with a random token. The kernel learns of the virtio-mmio transport only from
/// Actorvisor's ACPI DSDT (a "LNRO0005" device); the initramfs loads virtio_mmio, virtio_blk and ext4 from the L1's
/// /lib/modules, prints the kernel's virtio_blk line, mounts the disk, prints the host's token, writes its own token
/// and resets. A second boot of the same image finds the guest's file, and the host reads it with debugfs.
/// </summary>
public sealed partial class LinuxVirtioBlockTests : IDisposable
{
    private const ulong MemoryBytes = 256UL << 20;
    // Measured in the nested harness on the shared 2-core machine: a boot of this kernel to the marker takes 45-57 s on
    // one vCPU (LinuxGuestBootTests); ten times that bounds each of the two boots here.
    private static readonly TimeSpan BootBound = TimeSpan.FromSeconds(600);
    private const string CommandLine = "console=ttyS0 reboot=k panic=-1 pci=off quiet no_timer_check i8042.noaux i8042.nomux i8042.nopnp i8042.dumbkbd";
    // In load order (each after what modules.dep says it needs): the virtio-mmio transport and block driver, then ext4.
    private static readonly string[] Modules = ["virtio_mmio", "virtio_blk", "crc32c_generic", "ext4"];

    private readonly string _dir = Directory.CreateTempSubdirectory("actorvisor-virtio-blk-").FullName;
    private readonly Stopwatch _sinceStart = Stopwatch.StartNew();
    private readonly Timer _heartbeat;

    // The harness fails an L1 whose console stays silent for KVM_HARNESS_SILENCE seconds; a nested boot can be quiet that long.
    public LinuxVirtioBlockTests() =>
        _heartbeat = new Timer(_ => Console.WriteLine($"KVMHARNESS linux-virtio-blk: still running after {_sinceStart.Elapsed.TotalSeconds:0} s"),
            null, TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(30));

    public void Dispose()
    {
        _heartbeat.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    [Fact]
    public void Debian_kernel_finds_the_virtio_mmio_disk_through_acpi_reads_ext4_from_it_and_a_second_boot_finds_what_it_wrote()
    {
        var (kernel, moduleDir) = LinuxTestInitramfs.L1Kernel();
        var initrd = Path.Combine(_dir, "initramfs.cpio");
        File.WriteAllBytes(initrd, LinuxTestInitramfs.Build(moduleDir, Modules, Init));

        var hostToken = Guid.NewGuid().ToString("N");
        var disk = MakeExt4Disk(hostToken);

        var first = Boot(kernel, initrd, disk);
        Assert.Matches(VirtioBlkLine(), first);
        Assert.Contains($"ACTORVISOR-DISK-READ {hostToken}", first);
        var wrote = WroteLine().Match(first);
        Assert.True(wrote.Success, $"the guest wrote no token; console tail:\n{Tail(first)}");
        var guestToken = wrote.Groups["token"].Value;
        Assert.DoesNotContain("ACTORVISOR-DISK-FOUND", first);

        // The guest's write reached the image file: the host reads it back through the ext4 on it.
        Assert.Equal(guestToken, RunTool("debugfs", "-R", "cat /guest.txt", disk).Trim());

        var second = Boot(kernel, initrd, disk);
        Assert.Contains($"ACTORVISOR-DISK-READ {hostToken}", second);
        Assert.Contains($"ACTORVISOR-DISK-FOUND {guestToken}", second);
        Assert.DoesNotContain("ACTORVISOR-DISK-WROTE", second);
    }

    private string Boot(string kernel, string initrd, string disk)
    {
        var console = new CapturingConsoleSink();
        using var accel = KvmAccelerator.Open();
        using var machine = Machine.Create(accel, new MachineSpec
        {
            Image = new LinuxKernelImage(kernel, initrd, CommandLine), MemoryBytes = MemoryBytes, VcpuCount = 1,
            Disks = [new VirtioDiskSpec { Path = disk }],
        }, console);
        var wall = Stopwatch.StartNew();
        var result = machine.Run(BootBound);
        var output = result.ConsoleOutput;
        Assert.True(result.Outcome == MachineOutcome.Reset, $"outcome {result} after {wall.Elapsed.TotalSeconds:0.0} s; console tail:\n{Tail(output)}");
        Assert.DoesNotContain("ACTORVISOR-FAILED", output);
        Console.WriteLine($"KVMHARNESS linux-virtio-blk: boot to reset in {wall.Elapsed.TotalSeconds:0.00} s; guest lines: " +
                          string.Join(" | ", output.Split('\n').Where(l => l.Contains("ACTORVISOR-", StringComparison.Ordinal)).Select(l => l.TrimEnd('\r'))));
        return output;
    }

    // A 64 MiB ext4 image whose root holds host.txt with the token (mkfs.ext4 -d fills it from a directory).
    private string MakeExt4Disk(string token)
    {
        var content = Directory.CreateDirectory(Path.Combine(_dir, "content")).FullName;
        File.WriteAllText(Path.Combine(content, "host.txt"), token + "\n");
        var disk = Path.Combine(_dir, "disk.img");
        using (var f = File.Create(disk)) f.SetLength(64L << 20);
        RunTool("mkfs.ext4", "-q", "-F", "-L", "actorvisor", "-d", content, disk);
        return disk;
    }

    private static string RunTool(string tool, params string[] args)
    {
        var path = new[] { "/usr/sbin", "/sbin", "/usr/bin" }.Select(d => Path.Combine(d, tool)).FirstOrDefault(File.Exists)
                   ?? throw new InvalidOperationException($"{tool} (e2fsprogs) is not installed where the harness L1 sees it");
        var info = new ProcessStartInfo(path) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args) info.ArgumentList.Add(a);
        using var p = Process.Start(info)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        p.WaitForExit();
        Assert.True(p.ExitCode == 0, $"{tool} {string.Join(' ', args)} exited {p.ExitCode}: {stderr.Result}");
        return stdout.Result;
    }

    // Loads the modules, mounts the disk, prints the host's token, writes its own (first boot) or prints it (second).
    private const string Init = """
            #!/bin/busybox sh
            /bin/busybox --install -s /bin
            export PATH=/bin
            mkdir -p /proc /sys /mnt
            mount -t proc proc /proc
            mount -t sysfs sys /sys
            mount -t devtmpfs dev /dev
            for m in $(cat /modules.order); do insmod /modules/$m || echo "ACTORVISOR-FAILED insmod $m"; done
            i=0
            while [ ! -b /dev/vda ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
            echo "ACTORVISOR-DMESG $(dmesg | grep -m1 'virtio_blk virtio[0-9]*: \[vda\]')"
            if mount -t ext4 /dev/vda /mnt; then
              echo "ACTORVISOR-DISK-READ $(cat /mnt/host.txt)"
              if [ -f /mnt/guest.txt ]; then
                echo "ACTORVISOR-DISK-FOUND $(cat /mnt/guest.txt)"
              else
                token=$(cat /proc/sys/kernel/random/uuid)
                echo "$token" > /mnt/guest.txt
                echo "ACTORVISOR-DISK-WROTE $token"
              fi
              umount /mnt
            else
              echo "ACTORVISOR-FAILED mount /dev/vda"; ls -l /dev /sys/bus/virtio/devices /sys/bus/platform/devices; dmesg | tail -n 40
            fi
            sync
            reboot -f
            """;

    private static string Tail(string output) => output.Length > 4000 ? output[^4000..] : output;

    [GeneratedRegex(@"ACTORVISOR-DMESG .*virtio_blk virtio\d+: \[vda\]")]
    private static partial Regex VirtioBlkLine();

    [GeneratedRegex(@"ACTORVISOR-DISK-WROTE (?<token>[0-9a-f-]{36})")]
    private static partial Regex WroteLine();
}
