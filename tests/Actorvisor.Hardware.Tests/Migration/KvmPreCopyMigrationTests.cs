using System.Net;
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
/// Pre-copy live migration on KVM (the dirty log is KVM_GET_DIRTY_LOG): the dirtying counter guest moves between two
/// VMs of this process over a Unix socket while it runs, every page equal at the pause, its sequence and its own
/// checksum intact. Runs in the KVM harness (tests/kvm-harness), skipped where there is no hardware-assisted KVM.
/// </summary>
public sealed class KvmPreCopyMigrationTests
{
    // Each character is a port exit, slow in the harness's nested L1: few lines, the guest held between rounds.
    private const int Lines = 1000, Pages = 512, PagesPerLine = 16;

    [KvmFact]
    public async Task A_dirtying_guest_moves_between_two_kvm_vms_and_continues_where_it_was()
    {
        var guest = GuestLibrary.DirtyingCounter(Lines, Pages, PagesPerLine);
        using var sourceAccelerator = KvmAccelerator.Open();
        using var targetAccelerator = KvmAccelerator.Open();
        var sourceConsole = new CapturingConsoleSink(8 << 20);
        using var source = new RunningGuest("kvm-mover", MachineParts.Build(sourceAccelerator, new MachineSpec { Image = guest, MemoryBytes = 8 << 20 }, sourceConsole), sourceConsole);
        source.Allow(50);
        source.Start();
        await source.AfterLines(50);

        // A Unix socket, not TCP: the KVM harness's L1 has no loopback interface up.
        var path = Path.Join(Path.GetTempPath(), $"actorvisor-migrate-{Guid.NewGuid():N}.sock");
        var endpoint = new UnixDomainSocketEndPoint(path);
        using var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        listener.Bind(endpoint);
        listener.Listen(1);
        var targetConsole = new CapturingConsoleSink(8 << 20);
        var receiving = Task.Factory.StartNew(() =>
        {
            using var socket = listener.Accept();
            using var channel = new MigrationChannel(new NetworkStream(socket, ownsSocket: true));
            return MigrationTarget.Receive(targetAccelerator, channel, targetConsole);
        }, TaskCreationOptions.LongRunning);
        MigrationResult result;
        using (var client = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified))
        {
            client.Connect(endpoint);
            using var channel = new MigrationChannel(new NetworkStream(client, ownsSocket: false));
            // The guest runs 20 lines between rounds (dirtying pages the next round must resend), then waits at a line boundary.
            result = PreCopySource.Run(source, channel, new PreCopyOptions(), _ =>
            {
                int now = sourceConsole.Text.Count(c => c == '\n');
                source.Allow(now + 20);
                Assert.True(source.AfterLines(now + 20).Wait(TimeSpan.FromMinutes(5)), $"the source guest stalled at line {now}");
            });
        }
        File.Delete(path);
        using var target = (await receiving).Parts;

        var before = source.MemoryAtPause!;
        var moved = new byte[target.Memory.Size];
        target.Memory.Read(0, moved);
        var differing = Enumerable.Range(0, before.Length / 4096).Where(p => !before.AsSpan(p * 4096, 4096).SequenceEqual(moved.AsSpan(p * 4096, 4096))).ToList();
        Assert.True(differing.Count == 0, $"{differing.Count} pages differ, first {string.Join(", ", differing.Take(8))}; rounds: {string.Join("; ", result.Rounds)}");
        Assert.True(result.Rounds[0].PagesSent >= Pages);

        var exit = await Task.Factory.StartNew(() =>
        {
            while (true)
            {
                var e = target.Vcpus[0].Run(target.Bus);
                if (e is not VcpuExit.Interrupted) return e;
            }
        }, TaskCreationOptions.LongRunning);
        Assert.IsType<VcpuExit.PortIo>(exit);
        Assert.True(guest.ExpectedConsole == source.ConsoleAtPause + targetConsole.Text, "the console does not continue the sequence exactly");
        Assert.Equal(guest.ExpectedResultCode, target.DebugExit.ResultCode);
    }
}
