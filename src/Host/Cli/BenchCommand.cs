using System.CommandLine;
using Actorvisor.Host.Bench;
using Actorvisor.Hardware.Accel;
using Actorvisor.Hardware.Guests;

namespace Actorvisor.Host.Cli;

/// <summary>`actorvisor bench NAME`: prints one `key: value` figure per line, against a baseline measured in the same run.</summary>
public static class BenchCommand
{
    /// <summary>Builds the command with one subcommand per benchmark.</summary>
    public static Command Create() => new("bench", "Benchmarks (one `key: value` figure per line)")
    {
        Exits(),
        MetricsCommand(),
        Lifecycle(),
        Mmu(),
        AsyncPfCommand(),
        AsyncPfDestroyCommand(),
        AsyncPfGuestCommand(),
        Snapshot(),
        Migrate(),
        ClusterBenchCommand.Create(),
        CliBenchCommand.Create(),
        Boot(),
        VirtioBenchCommand.Create(),
    };

    private static Command Boot()
    {
        var kernel = new Option<FileInfo?>("--kernel") { Description = "the Linux bzImage (default: the newest /boot/vmlinuz-*)" };
        var initrd = new Option<FileInfo>("--initrd") { Description = "the initramfs; its /init must print the marker on the console, then reboot", Required = true };
        var cmdline = new Option<string>("--cmdline")
        {
            Description = "the kernel command line both VMMs pass (the defaults run adds pci=off)",
            DefaultValueFactory = _ => "console=ttyS0 reboot=k panic=-1 quiet no_timer_check i8042.noaux i8042.nomux i8042.nopnp i8042.dumbkbd",
        };
        var memory = new Option<string>("--memory") { Description = "guest RAM on both sides", DefaultValueFactory = _ => "256M" };
        var vcpus = new Option<int>("--vcpus") { Description = "vCPUs on both sides", DefaultValueFactory = _ => 1 };
        var marker = new Option<string>("--marker") { Description = "the console text that ends a boot", DefaultValueFactory = _ => "ACTORVISOR-LINUX-UP" };
        var qemu = new Option<string>("--qemu") { Description = "the QEMU executable", DefaultValueFactory = _ => "qemu-system-x86_64" };
        var runs = new Option<int>("--runs") { Description = "timed rounds after one untimed warm-up boot of each side (each round: Actorvisor, QEMU, Actorvisor with pci=off)", DefaultValueFactory = _ => BootBenchmark.MinimumRuns };
        var timeout = new Option<int>("--timeout") { Description = "seconds one boot may take", DefaultValueFactory = _ => 600 };
        runs.Validators.Add(r => { if (r.GetValueOrDefault<int>() < BootBenchmark.MinimumRuns) r.AddError($"--runs must be at least {BootBenchmark.MinimumRuns}"); });
        vcpus.Validators.Add(r => { if (r.GetValueOrDefault<int>() is < 1 or > 8) r.AddError("--vcpus must be 1..8"); });
        var command = new Command("boot", "Linux boot to a console marker: Actorvisor on KVM vs qemu-system-x86_64 -accel kvm, same kernel, initramfs, command line, memory and vCPUs, alternating")
            { kernel, initrd, cmdline, memory, vcpus, marker, qemu, runs, timeout };
        command.SetAction(parse =>
        {
            if (LinuxFiles(parse.GetValue(kernel), parse.GetValue(initrd)!) is not (string bzImage, FileInfo initramfs)) return ExitCodes.Usage;
            if (!ByteSize.TryParse(parse.GetValue(memory)!, out var memoryBytes, out var sizeError))
            {
                Console.Error.WriteLine($"actorvisor: --memory: {sizeError}");
                return ExitCodes.Usage;
            }
            var settings = new BootBenchmark.Settings(bzImage, initramfs.FullName, parse.GetValue(cmdline)!, memoryBytes, parse.GetValue(vcpus),
                parse.GetValue(marker)!, parse.GetValue(qemu)!, TimeSpan.FromSeconds(parse.GetValue(timeout)));
            return Print(BootBenchmark.Run(settings, parse.GetValue(runs), Console.Error));
        });
        return command;
    }

    private static Command Exits()
    {
        var exits = new Option<int>("--exits") { Description = "port-I/O exits per round (a sample must last long enough that background JIT work and preemption are a small part of it)", DefaultValueFactory = _ => 10_000_000 };
        var rounds = Rounds();
        exits.Validators.Add(r => { if (r.GetValueOrDefault<int>() < 1000) r.AddError("--exits must be at least 1000"); });
        var command = new Command("exits", "Port-I/O exits per second through the runtime vs a raw Unicorn OUT-hook loop") { exits, rounds };
        command.SetAction(parse => Print(ExitsBenchmark.Run(parse.GetValue(exits), parse.GetValue(rounds), Console.Error)));
        return command;
    }

    private static Command MetricsCommand()
    {
        var exits = new Option<int>("--exits") { Description = "port-I/O exits per round", DefaultValueFactory = _ => 5_000_000 };
        var rounds = Rounds();
        exits.Validators.Add(r => { if (r.GetValueOrDefault<int>() < 1000) r.AddError("--exits must be at least 1000"); });
        var command = new Command("metrics", "Cost of metrics on the exit path: port-I/O exits per second through the runtime with exit counting and a collecting listener vs without") { exits, rounds };
        command.SetAction(parse => Print(MetricsBenchmark.Run(parse.GetValue(exits), parse.GetValue(rounds), Console.Error)));
        return command;
    }

    private static Command Lifecycle()
    {
        var vms = new Option<int>("--vms") { Description = "VMs created, started and destroyed per round (each way)", DefaultValueFactory = _ => 300 };
        var idle = new Option<int>("--idle-vms") { Description = "idle VMs held at once for the memory figure", DefaultValueFactory = _ => 100 };
        var trips = new Option<int>("--round-trips") { Description = "pause/resume round trips per round", DefaultValueFactory = _ => 2000 };
        var rounds = Rounds();
        foreach (var o in new[] { vms, idle, trips })
            o.Validators.Add(r => { if (r.GetValueOrDefault<int>() < 10) r.AddError($"{o.Name} must be at least 10"); });
        var command = new Command("lifecycle", "VM create+start+destroy per second vs the hardware layer alone, memory per idle VM, vCPU pause/resume round trip vs two plain Asks")
            { vms, idle, trips, rounds };
        command.SetAction(async (parse, _) =>
            Print(await LifecycleBenchmark.RunAsync(parse.GetValue(vms), parse.GetValue(idle), parse.GetValue(trips), parse.GetValue(rounds), Console.Error)));
        return command;
    }

    private static Command Mmu()
    {
        var pages = new Option<int>("--pages") { Description = "pages of the memslot the MMU benchmark faults and harvests", DefaultValueFactory = _ => 65536 };
        var rounds = Rounds();
        pages.Validators.Add(r => { if (r.GetValueOrDefault<int>() is < 1024 or > 262_144) r.AddError("--pages must be 1024..262144"); });
        var command = new Command("mmu", "Software MMU: write-protect faults per second on the fast vs the slow path (1 and 2 threads); dirty-log harvest + copy vs memcpy") { pages, rounds };
        command.SetAction(parse => Print(MmuBenchmark.Run(parse.GetValue(pages), parse.GetValue(rounds), Console.Error)));
        return command;
    }

    private static Command AsyncPfCommand()
    {
        var fillPages = new Option<int>("--fill-pages") { Description = "pages of lazy memory to fill (runtime and C loop)", DefaultValueFactory = _ => 32_768 };
        var touchPages = new Option<int>("--touch-pages") { Description = "pages the 2-vCPU guest touches in order", DefaultValueFactory = _ => 4096 };
        var latency = new Option<double>("--latency-ms") { Description = "store latency per page read, in ms", DefaultValueFactory = _ => 1.0 };
        var rounds = Rounds();
        fillPages.Validators.Add(r => { if (r.GetValueOrDefault<int>() < 64) r.AddError("--fill-pages must be at least 64"); });
        touchPages.Validators.Add(r => { int v = r.GetValueOrDefault<int>(); if (v < 64 || v % 2 != 0) r.AddError("--touch-pages must be an even number, at least 64"); });
        latency.Validators.Add(r => { if (r.GetValueOrDefault<double>() is < 0 or > 1000) r.AddError("--latency-ms must be 0..1000"); });
        var command = new Command("asyncpf", "Lazy fill vs a C UFFDIO_COPY loop; a 2-vCPU sequential touch with async workers + readahead vs synchronous only (readahead speedup)")
            { fillPages, touchPages, latency, rounds };
        command.SetAction(parse => Print(AsyncPfBenchmark.Run(parse.GetValue(fillPages), parse.GetValue(touchPages), parse.GetValue(latency), parse.GetValue(rounds), Console.Error)));
        return command;
    }

    private static Command AsyncPfGuestCommand()
    {
        var pages = new Option<int>("--pages") { Description = "lazy pages the guest's walker reads", DefaultValueFactory = _ => 2048 };
        var latency = new Option<double>("--latency-ms") { Description = "store latency per page read, in ms", DefaultValueFactory = _ => 1.0 };
        var tasks = new Option<int>("--compute-tasks") { Description = "compute tasks beside the walker", DefaultValueFactory = _ => 3 };
        var accelerator = new Option<AcceleratorPreference>("--accelerator")
        {
            Description = "software, or kvm (the guest on the PC platform, the kernel doing the protocol)", DefaultValueFactory = _ => AcceleratorPreference.Software,
        };
        var rounds = Rounds();
        pages.Validators.Add(r => { if (r.GetValueOrDefault<int>() is < 64 or > 262_144) r.AddError("--pages must be 64..262144"); });
        latency.Validators.Add(r => { if (r.GetValueOrDefault<double>() is < 0 or > 1000) r.AddError("--latency-ms must be 0..1000"); });
        tasks.Validators.Add(r => { if (r.GetValueOrDefault<int>() is < 1 or > AsyncPfSchedulerGuest.MaxComputeTasks) r.AddError($"--compute-tasks must be 1..{AsyncPfSchedulerGuest.MaxComputeTasks}"); });
        var command = new Command("asyncpf-guest", "A one-vCPU guest scheduler whose walker sleeps on async page faults: compute done with the protocol vs blocking vs no faults (overlap)")
            { pages, latency, tasks, accelerator, rounds };
        command.SetAction(parse => Print(AsyncPfGuestBenchmark.Run(parse.GetValue(accelerator), parse.GetValue(pages), parse.GetValue(latency), parse.GetValue(tasks), parse.GetValue(rounds), Console.Error)));
        return command;
    }

    private static Command AsyncPfDestroyCommand()
    {
        var count = new Option<int>("--count") { Description = "VMs to destroy", DefaultValueFactory = _ => 10_000 };
        var parallel = new Option<int>("--parallel") { Description = "VMs alive at a time", DefaultValueFactory = _ => 4 };
        var rounds = Rounds();
        count.Validators.Add(r => { if (r.GetValueOrDefault<int>() < 5) r.AddError("--count must be at least 5 (one VM per round)"); });
        parallel.Validators.Add(r => { if (r.GetValueOrDefault<int>() is < 1 or > 16) r.AddError("--parallel must be 1..16"); });
        var command = new Command("asyncpf-destroy", "Destroys VMs with async page faults in flight against a slow store; counts what is left behind")
            { count, parallel, rounds };
        command.SetAction(parse =>
        {
            var figures = AsyncPfDestroyBenchmark.Run(parse.GetValue(count), parse.GetValue(parallel), parse.GetValue(rounds), Console.Error);
            Print(figures);
            // A stress run that found something left behind fails (exit 1), so scripts can rely on it.
            return figures.Any(f => f.Key == "asyncpf.destroy.problems" && f.Value != "0") ? 1 : ExitCodes.Ok;
        });
        return command;
    }

    private static Command Snapshot()
    {
        var memory = new Option<string>("--memory") { Description = "guest RAM (the issue's figure is 1G)", DefaultValueFactory = _ => "256M" };
        var written = new Option<string>("--written") { Description = "memory the guest has written before the snapshot (the issue's figure is 256M)", DefaultValueFactory = _ => "64M" };
        var dir = new Option<string?>("--dir") { Description = "where the snapshots and dd's file go (default: a temp directory)" };
        var rounds = Rounds();
        var command = new Command("snapshot", "Snapshot write vs dd of the same size; eager, mmap and lazy restore to the guest's first instruction (software accelerator)")
            { memory, written, dir, rounds };
        command.SetAction(parse =>
        {
            if (!ByteSize.TryParse(parse.GetValue(memory)!, out var m, out var e1)) { Console.Error.WriteLine($"actorvisor: --memory: {e1}"); return ExitCodes.Usage; }
            if (!ByteSize.TryParse(parse.GetValue(written)!, out var w, out var e2)) { Console.Error.WriteLine($"actorvisor: --written: {e2}"); return ExitCodes.Usage; }
            if (w < 4096 || w % 4096 != 0 || w + (4UL << 20) > m) { Console.Error.WriteLine("actorvisor: --written must be a multiple of 4 KiB, at least 4 KiB and 4 MiB less than --memory"); return ExitCodes.Usage; }
            return Print(SnapshotBenchmark.Run(m, w, parse.GetValue(rounds), parse.GetValue(dir), Console.Error));
        });
        return command;
    }

    private static Command Migrate()
    {
        var memory = new Option<string>("--memory") { Description = "guest RAM (the issue's figure is 256M)", DefaultValueFactory = _ => "256M" };
        var pagesPerLine = new Option<int>("--pages-per-line") { Description = "pseudo-random pages the guest dirties after each counter line", DefaultValueFactory = _ => 16 };
        var dirtyRate = new Option<double>("--dirty-mbps") { Description = "the guest's paced dirty rate in MB/s (the issue's figure is 50)", DefaultValueFactory = _ => 50 };
        dirtyRate.Validators.Add(r => { if (r.GetValueOrDefault<double>() is <= 0 or > 100_000) r.AddError("--dirty-mbps must be above 0 and at most 100000"); });
        var maxDowntime = new Option<int>("--max-downtime-ms") { Description = "the pre-copy downtime budget", DefaultValueFactory = _ => 100 };
        var rounds = Rounds();
        pagesPerLine.Validators.Add(r => { if (r.GetValueOrDefault<int>() is < 1 or > 4096) r.AddError("--pages-per-line must be 1..4096"); });
        maxDowntime.Validators.Add(r => { if (r.GetValueOrDefault<int>() < 0) r.AddError("--max-downtime-ms must not be negative"); });
        var command = new Command("migrate", "Live migration (pre-copy, post-copy, the convergence limit) of a guest dirtying random pages at a paced rate between two machines over loopback TCP (software accelerator)")
            { memory, pagesPerLine, dirtyRate, maxDowntime, rounds };
        command.SetAction(parse =>
        {
            if (!ByteSize.TryParse(parse.GetValue(memory)!, out var m, out var e1)) { Console.Error.WriteLine($"actorvisor: --memory: {e1}"); return ExitCodes.Usage; }
            if (m < (8UL << 20) || m % 4096 != 0) { Console.Error.WriteLine("actorvisor: --memory must be a multiple of 4 KiB and at least 8M"); return ExitCodes.Usage; }
            return Print(MigrationBenchmark.Run(m, parse.GetValue(pagesPerLine), parse.GetValue(dirtyRate), TimeSpan.FromMilliseconds(parse.GetValue(maxDowntime)), parse.GetValue(rounds), Console.Error));
        });
        return command;
    }

    // Every bench reports the median of its rounds with min and max: fewer than 5 rounds make no median worth printing.
    private static Option<int> Rounds()
    {
        var rounds = new Option<int>("--rounds") { Description = "measured rounds of each side, alternated after a warm-up round (median, min and max are reported)", DefaultValueFactory = _ => 5 };
        rounds.Validators.Add(r => { if (r.GetValueOrDefault<int>() < 5) r.AddError("--rounds must be at least 5"); });
        return rounds;
    }

    /// <summary>
    /// A Linux bench's kernel (<paramref name="kernel"/>, or the newest /boot/vmlinuz-*) and initramfs, both existing; null
    /// (with the reason on standard error) if either does not.
    /// </summary>
    internal static (string Kernel, FileInfo Initrd)? LinuxFiles(FileInfo? kernel, FileInfo initrd)
    {
        var bzImage = kernel?.FullName ?? Directory.GetFiles("/boot", "vmlinuz-*").OrderBy(p => p, StringComparer.Ordinal).LastOrDefault();
        if (bzImage is null || !File.Exists(bzImage))
        {
            Console.Error.WriteLine($"actorvisor: --kernel: {bzImage ?? "no /boot/vmlinuz-*"} does not exist");
            return null;
        }
        if (!initrd.Exists)
        {
            Console.Error.WriteLine($"actorvisor: --initrd: {initrd.FullName} does not exist");
            return null;
        }
        return (bzImage, initrd);
    }

    private static int Print(IReadOnlyList<(string Key, string Value)> figures)
    {
        foreach (var (key, value) in figures) Console.WriteLine($"{key}: {value}");
        return ExitCodes.Ok;
    }
}
