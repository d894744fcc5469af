using System.Net.Sockets;
using Actorvisor.Hardware.Accel;
using Actorvisor.Hardware.Devices;
using Actorvisor.Hardware.Guests;
using Actorvisor.Hardware.Kvm;
using Actorvisor.Hardware.Machines;
using Actorvisor.Hardware.Migration;
using Actorvisor.Hardware.Tests.Lazy;

namespace Actorvisor.Hardware.Tests.Migration;

/// <summary>
/// Post-copy live migration on KVM: the dirtying counter guest switches over after the first pass between two VMs of
/// this process over a Unix socket and runs on the target at once; KVM's faults on the pages it lacks (in the kernel,
/// through the target's userfaultfd) are served from the source while the source pushes the rest. Its sequence and its
/// own checksum come out intact, and some pages came by remote fault. Runs in the KVM harness (tests/kvm-harness),
/// skipped where there is no hardware-assisted KVM.
/// </summary>
public sealed class KvmPostCopyMigrationTests
{
    // Each character is a port exit, slow in the harness's nested L1: few lines, the guest held until the first pass ends.
    private const int Lines = 1000, Pages = 512, PagesPerLine = 16;

    [KvmFact]
    public async Task A_dirtying_guest_switches_over_by_post_copy_between_two_kvm_vms_and_continues()
    {
        var guest = GuestLibrary.DirtyingCounter(Lines, Pages, PagesPerLine);
        using var sourceAccelerator = KvmAccelerator.Open();
        using var targetAccelerator = KvmAccelerator.Open();
        var sourceConsole = new CapturingConsoleSink(8 << 20);
        using var source = new RunningGuest("kvm-postcopier", MachineParts.Build(sourceAccelerator, new MachineSpec { Image = guest, MemoryBytes = 8 << 20 }, sourceConsole), sourceConsole);
        source.Allow(50);
        source.Start();
        await source.AfterLines(50);

        // A Unix socket, not TCP: the KVM harness's L1 has no loopback interface up.
        var path = Path.Join(Path.GetTempPath(), $"actorvisor-postcopy-{Guid.NewGuid():N}.sock");
        var endpoint = new UnixDomainSocketEndPoint(path);
        using var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        listener.Bind(endpoint);
        listener.Listen(1);
        var targetConsole = new CapturingConsoleSink(8 << 20);
        var target = Task.Factory.StartNew(() =>
        {
            using var socket = listener.Accept();
            using var channel = new MigrationChannel(new NetworkStream(socket, ownsSocket: true));
            var received = MigrationTarget.Receive(targetAccelerator, channel, targetConsole);
            VcpuExit exit;
            while (true)
            {
                exit = received.Parts.Vcpus[0].Run(received.Parts.Bus);
                if (exit is not VcpuExit.Interrupted) break;
            }
            received.PostCopy?.Completion.Wait(TimeSpan.FromMinutes(5));
            return (received, exit);
        }, TaskCreationOptions.LongRunning);
        MigrationResult result;
        using (var client = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified))
        {
            client.Connect(endpoint);
            using var channel = new MigrationChannel(new NetworkStream(client, ownsSocket: false));
            // The guest runs 20 lines after the first pass (dirtying pages the target then lacks), then the source pauses.
            // 512 KiB/s: the push of the ~320 pages the guest dirties takes seconds, so the target's vCPU faults on some of
            // them first (unlimited, the nested L1 once started it only after every page had arrived).
            result = PreCopySource.Run(source, channel, new PreCopyOptions { PostCopy = PostCopyMode.Always, BandwidthBytesPerSecond = 512 << 10 }, _ =>
            {
                int now = sourceConsole.Text.Count(c => c == '\n');
                source.Allow(now + 20);
                Assert.True(source.AfterLines(now + 20).Wait(TimeSpan.FromMinutes(5)), $"the source guest stalled at line {now}");
            });
        }
        File.Delete(path);
        var (received, exit) = await target;
        using var parts = received.Parts;

        var postCopy = Assert.IsType<PostCopyStats>(result.PostCopy);
        Assert.NotNull(received.PostCopy);
        await received.PostCopy.Completion;
        Assert.Equal(postCopy.MissingPages, postCopy.PagesPushed + postCopy.PagesRequested);
        Assert.InRange(received.PostCopy.RemoteFaults, 1, postCopy.MissingPages);
        Assert.Equal((long)parts.LazyMemory!.PageCount, parts.LazyMemory.PresentPages);
        Assert.IsType<VcpuExit.PortIo>(exit);
        Assert.True(guest.ExpectedConsole == source.ConsoleAtPause + targetConsole.Text, "the console does not continue the sequence exactly");
        Assert.Equal(guest.ExpectedResultCode, parts.DebugExit.ResultCode);
    }
}
