using System.Diagnostics;
using System.Text;
using Actorvisor.Actors.AsyncPf;
using Actorvisor.Actors.Registry;
using Actorvisor.Actors.Runtime;
using Actorvisor.Actors.Vm;
using Actorvisor.Hardware.Images.Linux;
using Actorvisor.Hardware.Kvm;
using Actorvisor.Hardware.Machines;
using Actorvisor.Hardware.Snapshots;
using Actorvisor.Hardware.X86;
using Akka.Actor;

namespace Actorvisor.Kvm.Tests.Linux;

/// <summary>
/// A Linux guest keeps its shell session across a snapshot and restore: the L1's Debian kernel boots to an interactive
/// busybox shell on the serial console, the host types <c>cd /tmp; X=41</c> and sees the echo, the VM is paused,
/// snapshotted through VmActor's SnapshotVm (what the node's `vm snapshot` does) and destroyed; a new VM restored from the
/// snapshot (MachineVm.RestoreSpec, what `vm restore` builds), eagerly and then lazily, takes the next command over the
/// console and answers with the shell's variable and working directory, then sleeps a second (the guest's timer
/// interrupt, clock and the UART's interrupt through the IOAPIC all have to work in the restored VM).
/// </summary>
public sealed class LinuxShellSnapshotTests : IDisposable
{
    private const ulong MemoryBytes = 256UL << 20;
    private const string ShellUp = "ACTORVISOR-SHELL-UP";
    private const string CommandLine = "console=ttyS0 reboot=k panic=-1 pci=off quiet no_timer_check i8042.noaux i8042.nomux i8042.nopnp i8042.dumbkbd";
    // Measured in the nested harness on the shared 2-core machine: 45-57 s from start to userspace on one vCPU
    // (LinuxGuestBootTests); ten times that bounds the boot.
    private static readonly TimeSpan BootBound = TimeSpan.FromSeconds(600);
    // A restored guest whose timer or interrupts are lost never answers. Measured in the harness on 2026-12-07 (host load
    // 100+): boot to the shell 68.6 s, snapshot of 256 MiB 84 s (70 MiB on disk), eager restore running after 38 s and
    // answering 1 s later, lazy restore running after 2.1 s and answering after 18.8 s (3228 pages fetched), whole test
    // 289 s. Bounded far above need, so a loaded machine cannot fail it.
    private static readonly TimeSpan AnswerBound = TimeSpan.FromSeconds(300);
    // Each request (pause, snapshot of 256 MiB, destroy, create from a snapshot) is well under a minute in the harness.
    private static readonly TimeSpan RequestBound = TimeSpan.FromSeconds(300);

    private readonly string _dir = Directory.CreateTempSubdirectory("actorvisor-linux-snap-").FullName;
    private readonly Stopwatch _sinceStart = Stopwatch.StartNew();
    private readonly Timer _heartbeat;

    // The harness fails an L1 whose console stays silent for KVM_HARNESS_SILENCE seconds; a nested boot can be quiet that long.
    public LinuxShellSnapshotTests() =>
        _heartbeat = new Timer(_ => Console.WriteLine($"KVMHARNESS linux-snapshot: still running after {_sinceStart.Elapsed.TotalSeconds:0} s"),
            null, TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(30));

    public void Dispose()
    {
        _heartbeat.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    [Fact]
    public async Task A_linux_shell_session_snapshotted_and_restored_eagerly_and_lazily_keeps_its_variables_and_directory()
    {
        var (kernel, moduleDir) = LinuxTestInitramfs.L1Kernel();
        var initrd = Path.Combine(_dir, "initramfs.cpio");
        File.WriteAllBytes(initrd, LinuxTestInitramfs.Build(moduleDir, [], Init));
        using var kvm = KvmAccelerator.Open();
        await using var runtime = ActorvisorRuntime.Start(new NodeCapacity(4, 1UL << 30), "linux-snapshot", requestTimeout: RequestBound);

        var console = new ConsoleWatch();
        var original = await runtime.CreateVmAsync(MachineVm.Spec("linux", kvm, new MachineSpec
        {
            Image = new LinuxKernelImage(kernel, initrd, CommandLine), MemoryBytes = MemoryBytes, VcpuCount = 1,
        }), e => console.Take(e));
        var wall = Stopwatch.StartNew();
        await original.StartAsync();
        await console.Until(ShellUp, 0, BootBound, "the boot to the shell");
        var booted = wall.Elapsed;
        int typedAt = console.Length;
        await original.SendConsoleInputAsync(Encoding.ASCII.GetBytes("cd /tmp; X=41; echo before-$X $(pwd)\n"));
        await console.Until("before-41 /tmp", typedAt, AnswerBound, "the shell's answer before the snapshot");

        await original.PauseAsync();
        var snapshot = await original.Vm.Ask<VmSnapshotted>(new SnapshotVm(Path.Join(_dir, "snapshot")), RequestBound);
        Assert.Equal(MemoryBytes, snapshot.MemoryBytes);
        await original.DestroyAsync();
        var manifest = SnapshotReader.Open(snapshot.Directory, kvm.Kind).Manifest;
        Assert.Equal(nameof(GuestPlatform.Pc), manifest.MachinePlatform);
        Console.WriteLine($"KVMHARNESS linux-snapshot: boot to shell {booted.TotalSeconds:0.0} s, snapshot {snapshot.Took.TotalMilliseconds:0} ms, " +
                          $"{snapshot.BytesOnDisk >> 20} MiB on disk of {snapshot.MemoryBytes >> 20} MiB");

        foreach (var mode in new[] { RestoreMode.Eager, RestoreMode.Lazy })
        {
            AsyncPfRouter? router = null;
            var restoredConsole = new ConsoleWatch();
            var clock = Stopwatch.StartNew();
            var restored = await runtime.CreateVmAsync(
                MachineVm.RestoreSpec($"linux-{mode.ToString().ToLowerInvariant()}", kvm, snapshot.Directory, mode, routerBuilt: r => router = r),
                e => restoredConsole.Take(e));
            await restored.StartAsync();
            var restoredIn = clock.Elapsed;
            await restored.SendConsoleInputAsync(Encoding.ASCII.GetBytes("X=$((X+1)); echo after-$X $(pwd)\n"));
            await restoredConsole.Until("after-42 /tmp", 0, AnswerBound, $"the shell's answer after the {mode} restore");
            var answeredIn = clock.Elapsed;
            // The guest's timer: sleep is an hrtimer on the restored LAPIC timer (or a lost tick never wakes it).
            int sleptAt = restoredConsole.Length;
            await restored.SendConsoleInputAsync(Encoding.ASCII.GetBytes("sleep 1; echo slept-$X\n"));
            await restoredConsole.Until("slept-42", sleptAt, AnswerBound, $"sleep 1 after the {mode} restore");
            Assert.DoesNotContain("before-", restoredConsole.Text);
            string fetched = mode == RestoreMode.Lazy ? $", {router!.Region.PresentPages} pages fetched lazily" : "";
            Console.WriteLine($"KVMHARNESS linux-snapshot: {mode} restore running in {restoredIn.TotalMilliseconds:0} ms, " +
                              $"shell answered {answeredIn.TotalMilliseconds:0} ms after the request, slept by {clock.Elapsed.TotalMilliseconds:0} ms{fetched}");
            await restored.DestroyAsync();
        }
    }

    // An interactive shell on the console once userspace is up (PID 1, no job control: the console is no controlling tty).
    private const string Init = """
            #!/bin/busybox sh
            /bin/busybox --install -s /bin
            export PATH=/bin
            mkdir -p /proc /tmp
            mount -t proc proc /proc
            echo "ACTORVISOR-SHELL-UP"
            exec sh
            """;

    /// <summary>The console text of one VM, and tasks that complete when a string shows up in it.</summary>
    private sealed class ConsoleWatch
    {
        private readonly object _gate = new();
        private readonly StringBuilder _text = new();
        private readonly List<(string Text, int From, TaskCompletionSource Seen)> _waits = [];

        public int Length
        {
            get { lock (_gate) return _text.Length; }
        }

        public string Text
        {
            get { lock (_gate) return _text.ToString(); }
        }

        public void Take(VmEvent e)
        {
            if (e is not VmConsoleOutput output) return;
            lock (_gate)
            {
                _text.Append(Encoding.Latin1.GetString(output.Bytes));
                var all = _text.ToString();
                foreach (var wait in _waits.Where(w => all.IndexOf(w.Text, w.From, StringComparison.Ordinal) >= 0).ToList())
                {
                    wait.Seen.TrySetResult();
                    _waits.Remove(wait);
                }
            }
        }

        /// <summary>Returns once <paramref name="text"/> appears at or after <paramref name="from"/>; fails with the console's tail after <paramref name="bound"/>.</summary>
        public async Task Until(string text, int from, TimeSpan bound, string what)
        {
            var seen = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            lock (_gate)
            {
                if (_text.ToString().IndexOf(text, from, StringComparison.Ordinal) >= 0) return;
                _waits.Add((text, from, seen));
            }
            try
            {
                await seen.Task.WaitAsync(bound);
            }
            catch (TimeoutException)
            {
                var all = Text;
                Assert.Fail($"{what}: '{text}' not seen within {bound.TotalSeconds:0} s; console tail:\n{(all.Length > 3000 ? all[^3000..] : all)}");
            }
        }
    }
}
