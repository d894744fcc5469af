using System.Security.Cryptography;
using System.Text;
using Actorvisor.Actors.AsyncPf;
using Actorvisor.Actors.Registry;
using Actorvisor.Actors.Tests.Support;
using Actorvisor.Actors.Vm;
using Actorvisor.Hardware.Accel;
using Actorvisor.Hardware.Guests;
using Actorvisor.Hardware.Machines;
using Actorvisor.Hardware.Snapshots;
using Actorvisor.Hardware.Soft;
using Xunit.Abstractions;

namespace Actorvisor.Actors.Tests.Snapshots;

/// <summary>
/// Snapshot of a Paused VM through its VmActor and restore into a new VM (the VmBuilder path) on the software
/// accelerator: the counter guest continues its sequence in the restored VM with no gap and no repeat, in every
/// restore mode; memory comes back identical; a lazy restore fetches only what the guest touches.
/// </summary>
public sealed class VmSnapshotTests(ITestOutputHelper output) : VmTestKit(output), IDisposable
{
    private const int Ballast = 64;
    private const ulong Memory = 8UL << 20;
    private readonly SoftAccelerator _soft = new();
    private readonly string _dir = Directory.CreateTempSubdirectory("actorvisor-vm-snap-").FullName;

    void IDisposable.Dispose()
    {
        Directory.Delete(_dir, recursive: true);
        base.Dispose();
    }

    // A counter that runs far longer than any test: it is stopped, never finishes.
    private static readonly GuestImage LongCounter = GuestLibrary.Counter(GuestLibrary.MaxCounterLines, Ballast);

    private static GuestImage Counter() => LongCounter;

    private TestVm Create(IActorRef node, VmActorSpec spec)
    {
        node.Tell(new CreateVm(spec));
        var created = ExpectMsg<VmCreated>(Long);
        var events = CreateTestProbe();
        created.Vm.Tell(new SubscribeVm(events.Ref));
        ExpectMsg<VmSubscribed>(Long);
        return new TestVm(spec.Name, created.Vm, events, null!);
    }

    // Console output until at least `lines` newlines have arrived.
    private static string ConsoleUntilLines(TestVm vm, int lines)
    {
        var text = new StringBuilder();
        while (text.ToString().Count(c => c == '\n') < lines)
            if (vm.Events.ExpectMsg<VmEvent>(Long) is VmConsoleOutput o) text.Append(o.Text);
        return text.ToString();
    }

    private string StopAndCollect(TestVm vm, string soFar)
    {
        vm.Vm.Tell(StopVm.Instance);
        ExpectMsg<VmStopped>(Long);
        return soFar + Console(EventsUntilEnd(vm));
    }

    private static string Expected(int lines) => string.Concat(Enumerable.Range(0, lines).Select(n => GuestLibrary.CounterLine((uint)n)));

    /// <summary>Runs the counter, pauses it, snapshots it (without resuming) and stops it; returns the snapshot and everything it printed.</summary>
    private (VmSnapshotted Snapshot, string Printed) SnapshotCounter(IActorRef node, string name)
    {
        var vm = Create(node, MachineVm.Spec(name, _soft, new MachineSpec { Image = Counter(), MemoryBytes = Memory }));
        Start(vm);
        var printed = ConsoleUntilLines(vm, 3);
        Assert.Equal(new VmTransitioned(name, VmState.Paused), Ask<VmTransitioned>(vm, PauseVm.Instance));
        var progress = CreateTestProbe();
        var snapshot = Ask<VmSnapshotted>(vm, new SnapshotVm(Path.Join(_dir, name), ProgressTo: progress.Ref));
        Assert.Equal(Memory, snapshot.MemoryBytes);
        Assert.False(snapshot.Resumed);
        var last = progress.FishForMessage<VmSnapshotProgress>(p => p.Done == p.Total, Long);
        Assert.Equal(Memory, last.Total);
        // Still Paused: nothing more is printed until it is stopped.
        Assert.Equal(VmState.Paused, Ask<VmDescription>(vm, GetVmDescription.Instance).State);
        return (snapshot, StopAndCollect(vm, printed));
    }

    [Theory]
    [InlineData(RestoreMode.Eager)]
    [InlineData(RestoreMode.Mmap)]
    [InlineData(RestoreMode.Lazy)]
    public void A_restored_vm_continues_the_counter_with_no_gap_and_no_repeat(RestoreMode mode)
    {
        var node = StartNode();
        var (snapshot, before) = SnapshotCounter(node, $"counter-{mode}".ToLowerInvariant());
        int linesBefore = before.Count(c => c == '\n');
        Assert.StartsWith(Expected(linesBefore), before);

        AsyncPfRouter? router = null;
        // Without readahead, every page present is one the guest touched (readahead would fetch its neighbours too).
        var restored = Create(node, MachineVm.RestoreSpec($"restored-{mode}".ToLowerInvariant(), _soft, snapshot.Directory, mode,
            asyncPf: new AsyncPfOptions { ReadaheadPages = 0 }, routerBuilt: r => router = r));
        var manifest = SnapshotReader.Open(snapshot.Directory, AcceleratorKind.Software).Manifest;
        if (mode != RestoreMode.Lazy)
        {
            // Before it runs, the restored VM's RAM is the snapshot's, byte for byte.
            var memory = Ask<GuestMemoryRead>(restored, new ReadGuestMemory(0, (int)Memory)).Bytes;
            Assert.Equal(manifest.Files[SnapshotFormat.MemoryFile(0)].Sha256, MemoryFileDigest.Of(memory));
        }
        Start(restored);
        var after = StopAndCollect(restored, ConsoleUntilLines(restored, 5));
        var all = before + after;
        int lines = all.Count(c => c == '\n');
        Assert.True(lines >= linesBefore + 5, $"{lines} lines");
        Assert.StartsWith(Expected(lines), all);
        if (mode == RestoreMode.Lazy)
        {
            // The counter loop touches its code, its stack and the counter page; the ballast and the rest stay in the file.
            long fetched = router!.Region.PresentPages;
            ulong written = manifest.Memory.Single(m => m.Slot == 0).PagesWritten;
            Assert.True(written > Ballast, $"{written} pages written");
            Assert.InRange(fetched, 1, 16);
        }
    }

    [Fact]
    public void A_restored_vm_s_vcpu_threads_join_the_group_it_is_given_and_the_teardown_releases_it()
    {
        var node = StartNode();
        var (snapshot, _) = SnapshotCounter(node, "grouped");
        var group = new RecordingThreadGroup();
        int made = 0;
        var restored = Create(node, MachineVm.RestoreSpec("grouped-restored", _soft, snapshot.Directory, RestoreMode.Eager, vcpuThreads: () =>
        {
            made++;
            return group;
        }));
        // The vCPU thread joins as it starts (parked), before the guest runs.
        AwaitAssert(() => Assert.Single(group.Threads), Long);
        Assert.Equal(1, made);
        Assert.False(group.Disposed);
        Start(restored);
        ConsoleUntilLines(restored, 1);
        StopAndCollect(restored, "");
        AwaitAssert(() => Assert.True(group.Disposed, "the teardown released the group"), Long);
    }

    // A thread group that records who joined it (a cgroup needs cgroup v2; this host's CI may not have one).
    private sealed class RecordingThreadGroup : Actorvisor.Hardware.Cgroups.IThreadGroup
    {
        private readonly List<int> _threads = [];

        public IReadOnlyList<int> Threads
        {
            get
            {
                lock (_threads) return [.. _threads];
            }
        }

        public bool Disposed { get; private set; }

        public void Add(int kernelThreadId)
        {
            lock (_threads) _threads.Add(kernelThreadId);
        }

        public void Dispose() => Disposed = true;
    }

    [Fact]
    public void A_snapshot_with_resume_leaves_the_vm_running_and_printing()
    {
        var node = StartNode();
        var vm = Create(node, MachineVm.Spec("resumed", _soft, new MachineSpec { Image = Counter(), MemoryBytes = Memory }));
        Start(vm);
        ConsoleUntilLines(vm, 2);
        Ask<VmTransitioned>(vm, PauseVm.Instance);
        var snapshot = Ask<VmSnapshotted>(vm, new SnapshotVm(Path.Join(_dir, "resumed"), Resume: true));
        Assert.True(snapshot.Resumed);
        Assert.Equal(VmState.Running, Ask<VmDescription>(vm, GetVmDescription.Instance).State);
        ConsoleUntilLines(vm, 3);
        StopAndCollect(vm, "");
    }

    [Fact]
    public void A_snapshot_is_refused_while_the_vm_runs_and_a_refused_snapshot_builds_no_vm()
    {
        var node = StartNode();
        var vm = Create(node, MachineVm.Spec("running", _soft, new MachineSpec { Image = Counter(), MemoryBytes = Memory }));
        Start(vm);
        var running = Ask<VmRequestFailed>(vm, new SnapshotVm(Path.Join(_dir, "never")));
        Assert.Equal(new VmError.InvalidTransition(VmState.Running, "snapshot"), running.Error);
        Assert.False(Path.Exists(Path.Join(_dir, "never")));
        Ask<VmTransitioned>(vm, PauseVm.Instance);
        // A directory that exists already is refused, and the VM stays Paused.
        Directory.CreateDirectory(Path.Join(_dir, "taken"));
        var taken = Ask<VmRequestFailed>(vm, new SnapshotVm(Path.Join(_dir, "taken")));
        Assert.Contains("already exists", Assert.IsType<VmError.SnapshotFailed>(taken.Error).Message);
        Assert.Equal(VmState.Paused, Ask<VmDescription>(vm, GetVmDescription.Instance).State);
        StopAndCollect(vm, "");

        var e = Assert.Throws<SnapshotException>(() => MachineVm.RestoreSpec("nothing", _soft, Path.Join(_dir, "taken"), RestoreMode.Lazy));
        Assert.Contains(SnapshotFormat.ManifestFile, e.Message);
    }
}
