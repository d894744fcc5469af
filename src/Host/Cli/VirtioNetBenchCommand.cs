using System.CommandLine;
using Actorvisor.Host.Bench;

namespace Actorvisor.Host.Cli;

/// <summary>
/// `actorvisor bench virtio-net`: virtio-net's ping round trip, Actorvisor vs QEMU (<see cref="VirtioNetBenchmark"/>). Run
/// inside the KVM harness through tests/kvm-harness/bench-virtio-net.sh, which builds the initramfs.
/// </summary>
public static class VirtioNetBenchCommand
{
    /// <summary>Builds the command.</summary>
    public static Command Create()
    {
        var kernel = new Option<FileInfo?>("--kernel") { Description = "the Linux bzImage (default: the newest /boot/vmlinuz-*)" };
        var initrd = new Option<FileInfo>("--initrd") { Description = $"the initramfs; its /init must bring eth0 up at {VirtioNetBenchmark.GuestAddress}/24 and print {VirtioNetBenchmark.Marker}", Required = true };
        var cmdline = new Option<string>("--cmdline")
        {
            Description = "the kernel command line both VMMs pass",
            DefaultValueFactory = _ => "console=ttyS0 reboot=k panic=-1 pci=off quiet no_timer_check i8042.noaux i8042.nomux i8042.nopnp i8042.dumbkbd",
        };
        var pings = new Option<int>("--pings") { Description = "echo requests timed per boot", DefaultValueFactory = _ => 100 };
        pings.Validators.Add(r => { if (r.GetValueOrDefault<int>() < 10) r.AddError("--pings must be at least 10"); });
        var runs = new Option<int>("--runs") { Description = "timed rounds after one untimed warm-up of each side (each round: Actorvisor, then QEMU)", DefaultValueFactory = _ => VirtioNetBenchmark.MinimumRuns };
        runs.Validators.Add(r => { if (r.GetValueOrDefault<int>() < VirtioNetBenchmark.MinimumRuns) r.AddError($"--runs must be at least {VirtioNetBenchmark.MinimumRuns}"); });
        var qemu = new Option<string>("--qemu") { Description = "the QEMU executable", DefaultValueFactory = _ => "qemu-system-x86_64" };
        var timeout = new Option<int>("--timeout") { Description = "seconds a boot to the marker may take", DefaultValueFactory = _ => 600 };
        var command = new Command("virtio-net", "virtio-net ping round trip (100 echoes from a namespace on the tap's host side): Actorvisor's virtio-mmio card vs QEMU -M microvm -netdev tap, alternating")
            { kernel, initrd, cmdline, pings, runs, qemu, timeout };
        command.SetAction(parse =>
        {
            if (BenchCommand.LinuxFiles(parse.GetValue(kernel), parse.GetValue(initrd)!) is not (string bzImage, FileInfo initramfs)) return ExitCodes.Usage;
            var settings = new VirtioNetBenchmark.Settings(bzImage, initramfs.FullName, parse.GetValue(cmdline)!, 256UL << 20, parse.GetValue(pings),
                parse.GetValue(qemu)!, TimeSpan.FromSeconds(parse.GetValue(timeout)));
            foreach (var (key, value) in VirtioNetBenchmark.Run(settings, parse.GetValue(runs), Console.Error)) Console.WriteLine($"{key}: {value}");
            return ExitCodes.Ok;
        });
        return command;
    }
}
