using System.CommandLine;
using Actorvisor.Host.Bench;

namespace Actorvisor.Host.Cli;

/// <summary>
/// `actorvisor bench virtio`: virtio-blk's sequential read and virtio-net's ping round trip, Actorvisor vs QEMU
/// (<see cref="VirtioBenchmark"/>, <see cref="VirtioNetBenchmark"/>), every key in one run. Run inside the KVM harness
/// through tests/kvm-harness/bench-virtio.sh, which builds both initramfs images.
/// </summary>
public static class VirtioBenchCommand
{
    /// <summary>Builds the command.</summary>
    public static Command Create()
    {
        var kernel = new Option<FileInfo?>("--kernel") { Description = "the Linux bzImage (default: the newest /boot/vmlinuz-*)" };
        var initrd = new Option<FileInfo>("--initrd") { Description = $"the block initramfs; its /init loads the virtio modules, reads /dev/vda twice with dd bs=1M iflag=direct, prints {VirtioBenchmark.BlockMarker} with the disk's size and its uptime around the second read, then reboots", Required = true };
        var cmdline = new Option<string>("--cmdline")
        {
            Description = "the kernel command line both VMMs pass for the block read (no pci=off: QEMU's disk is a PCI device)",
            DefaultValueFactory = _ => "console=ttyS0 reboot=k panic=-1 quiet no_timer_check i8042.noaux i8042.nomux i8042.nopnp i8042.dumbkbd",
        };
        var netInitrd = new Option<FileInfo?>("--net-initrd") { Description = $"the network initramfs; its /init must bring eth0 up at {VirtioNetBenchmark.GuestAddress}/24 and print {VirtioNetBenchmark.Marker} (without it the virtio-net figures are left out)" };
        var netCmdline = new Option<string>("--net-cmdline")
        {
            Description = "the kernel command line both VMMs pass for the round trips",
            DefaultValueFactory = _ => "console=ttyS0 reboot=k panic=-1 pci=off quiet no_timer_check i8042.noaux i8042.nomux i8042.nopnp i8042.dumbkbd",
        };
        var pings = new Option<int>("--pings") { Description = "echo requests timed per boot", DefaultValueFactory = _ => 100 };
        pings.Validators.Add(r => { if (r.GetValueOrDefault<int>() < 10) r.AddError("--pings must be at least 10"); });
        var memory = new Option<string>("--memory") { Description = "guest RAM on both sides", DefaultValueFactory = _ => "256M" };
        var disk = new Option<string>("--disk-size") { Description = "size of the disk the guest reads", DefaultValueFactory = _ => "256M" };
        var work = new Option<DirectoryInfo>("--work-dir") { Description = "where the disk image is written", DefaultValueFactory = _ => new DirectoryInfo(Path.GetTempPath()) };
        var qemu = new Option<string>("--qemu") { Description = "the QEMU executable", DefaultValueFactory = _ => "qemu-system-x86_64" };
        var runs = new Option<int>("--runs") { Description = "rounds of each part (block: an Actorvisor boot, then a QEMU boot, each reading the disk once untimed, then once timed; network: the same after one untimed warm-up boot of each)", DefaultValueFactory = _ => VirtioBenchmark.MinimumRuns };
        var timeout = new Option<int>("--timeout") { Description = "seconds one boot may take", DefaultValueFactory = _ => 900 };
        runs.Validators.Add(r => { if (r.GetValueOrDefault<int>() < VirtioBenchmark.MinimumRuns) r.AddError($"--runs must be at least {VirtioBenchmark.MinimumRuns}"); });
        var command = new Command("virtio", "virtio-blk sequential read in a Linux guest (dd, 1 MiB blocks, O_DIRECT; QEMU -drive if=virtio) and virtio-net ping round trip (from a namespace on the tap's host side; QEMU -M microvm -netdev tap), Actorvisor on KVM vs qemu-system-x86_64 -accel kvm, alternating; queue notifications that reached the vCPU")
            { kernel, initrd, cmdline, netInitrd, netCmdline, pings, memory, disk, work, qemu, runs, timeout };
        command.SetAction(parse =>
        {
            if (BenchCommand.LinuxFiles(parse.GetValue(kernel), parse.GetValue(initrd)!) is not (string bzImage, FileInfo initramfs)) return ExitCodes.Usage;
            if (parse.GetValue(netInitrd) is { Exists: false } missing)
            {
                Console.Error.WriteLine($"actorvisor: --net-initrd: {missing.FullName} does not exist");
                return ExitCodes.Usage;
            }
            if (!ByteSize.TryParse(parse.GetValue(memory)!, out var memoryBytes, out var sizeError))
            {
                Console.Error.WriteLine($"actorvisor: --memory: {sizeError}");
                return ExitCodes.Usage;
            }
            bool diskParsed = ByteSize.TryParse(parse.GetValue(disk)!, out var diskBytes, out var diskError);
            if (!diskParsed || diskBytes < (1UL << 20))
            {
                Console.Error.WriteLine($"actorvisor: --disk-size: {(diskParsed ? "must be at least 1M" : diskError)}");
                return ExitCodes.Usage;
            }
            var boot = TimeSpan.FromSeconds(parse.GetValue(timeout));
            var net = parse.GetValue(netInitrd) is { } netImage
                ? new VirtioNetBenchmark.Settings(bzImage, netImage.FullName, parse.GetValue(netCmdline)!, memoryBytes, parse.GetValue(pings), parse.GetValue(qemu)!, boot)
                : null;
            var settings = new VirtioBenchmark.Settings(bzImage, initramfs.FullName, parse.GetValue(cmdline)!, memoryBytes, (long)diskBytes,
                parse.GetValue(work)!.FullName, parse.GetValue(qemu)!, boot, net);
            foreach (var (key, value) in VirtioBenchmark.Run(settings, parse.GetValue(runs), Console.Error)) Console.WriteLine($"{key}: {value}");
            return ExitCodes.Ok;
        });
        return command;
    }
}
