using System.Net;
using System.Net.Sockets;
using Actorvisor.Hardware.Accel;
using Actorvisor.Hardware.Devices;
using Actorvisor.Hardware.Guests;
using Actorvisor.Hardware.Machines;
using Actorvisor.Hardware.Memory;
using Actorvisor.Hardware.Migration;
using Actorvisor.Hardware.Soft;

namespace Actorvisor.Hardware.Tests.Migration;

/// <summary>
/// Pre-copy live migration on the software accelerator without actors: a guest that keeps dirtying pages and printing a
/// counter runs on one machine and moves to another (its own accelerator instance) over loopback TCP while it runs.
/// The target's memory equals the source's at the pause page for page, the guest continues its sequence with no gap or
/// repeat and its own checksum of the dirtied region comes out right; each failure before switchover leaves the
/// source running to a correct end.
/// </summary>
public sealed class PreCopyMigrationTests : IDisposable
{
    // A few seconds of guest time on the software accelerator (the migration itself takes well under a second).
    private const int Lines = 3000, Pages = 512, PagesPerLine = 16, MigrateAfter = 50, LinesPerRound = 20;
    private static readonly GuestImage Guest = GuestLibrary.DirtyingCounter(Lines, Pages, PagesPerLine);
    private readonly SoftAccelerator _sourceAccelerator = new();
    private readonly SoftAccelerator _targetAccelerator = new();
    private readonly CapturingConsoleSink _sourceConsole = new();
    private readonly RunningGuest _source;
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);

    public PreCopyMigrationTests()
    {
        _source = new RunningGuest("dirtying-vm", MachineParts.Build(_sourceAccelerator, new MachineSpec { Image = Guest, MemoryBytes = 8 << 20 }, _sourceConsole), _sourceConsole);
        _listener.Start();
    }

    public void Dispose()
    {
        _listener.Stop();
        _source.Dispose();
        _sourceAccelerator.Dispose();
        _targetAccelerator.Dispose();
    }

    private int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    private Task<MigrationReceived> ReceiveInBackground(IConsoleSink console, Func<MigrationHeader, string?>? admit = null) => Task.Factory.StartNew(() =>
    {
        using var socket = _listener.AcceptTcpClient();
        using var channel = new MigrationChannel(socket.GetStream());
        return MigrationTarget.Receive(_targetAccelerator, channel, console, admit);
    }, TaskCreationOptions.LongRunning);

    private MigrationResult Migrate(PreCopyOptions? options = null, List<PreCopyRound>? rounds = null, CancellationToken cancel = default)
    {
        using var client = new TcpClient();
        client.Connect(IPAddress.Loopback, Port);
        using var channel = new MigrationChannel(client.GetStream());
        return PreCopySource.Run(_source, channel, options, r =>
        {
            rounds?.Add(r);
            // The guest runs (and dirties pages) between every round and before the pause, however fast the rounds are.
            AwaitMoreLines(LinesPerRound);
        }, cancel);
    }

    private void AwaitMoreLines(int more)
    {
        int now = _sourceConsole.Text.Count(c => c == '\n');
        _source.Allow(now + more);
        // ~1 ms of guest time per 16 lines here; a stalled guest is what the bound catches.
        Assert.True(_source.AfterLines(now + more).Wait(TimeSpan.FromSeconds(60)), $"the source guest printed no {more} more lines after line {now} while being migrated");
    }

    private static async Task<VcpuExit> RunToEnd(MachineParts parts)
    {
        var guest = new RunningGuestOfTarget(parts);
        return await guest.Run();
    }

    [Theory]
    [InlineData(100, 30)]
    [InlineData(0, 2)]   // a budget nothing but an idle guest meets: pre-copy ends at the round limit
    public async Task A_dirtying_guest_moves_while_running_and_continues_where_it_was(int maxDowntimeMs, int maxRounds)
    {
        // The guest runs only while the test lets it (between the rounds), so however slow the machine it is still
        // running at the pause: 50 + 20 lines a round of its 3000.
        _source.Allow(MigrateAfter);
        _source.Start();
        await _source.AfterLines(MigrateAfter);
        var targetConsole = new CapturingConsoleSink();
        var receiving = ReceiveInBackground(targetConsole);
        var rounds = new List<PreCopyRound>();
        var options = new PreCopyOptions { MaxDowntime = TimeSpan.FromMilliseconds(maxDowntimeMs), MaxRounds = maxRounds };

        var result = Migrate(options, rounds);
        var received = await receiving;
        using var target = received.Parts;

        // Every page of the target is the source's page at the pause, before the target runs.
        var source = _source.MemoryAtPause!;
        var moved = new byte[target.Memory.Size];
        target.Memory.Read(0, moved);
        Assert.Equal(source.Length, moved.Length);
        var differing = Enumerable.Range(0, source.Length / 4096).Where(p => !source.AsSpan(p * 4096, 4096).SequenceEqual(moved.AsSpan(p * 4096, 4096))).ToList();
        Assert.True(differing.Count == 0, $"{differing.Count} pages differ, first {string.Join(", ", differing.Take(8))}");

        // Rounds: the full pass first, then dirty-log rounds, as reported to the progress callback and the target.
        Assert.Equal(rounds, result.Rounds);
        Assert.Equal(result.Rounds.Count, received.Rounds);
        Assert.True(result.Rounds[0].PagesSent >= Pages, $"round 0 sent {result.Rounds[0].PagesSent} pages");
        Assert.All(result.Rounds.Skip(1), r => Assert.True(r.PagesSent + r.ZeroPagesSent > 0, $"round {r.Number} sent nothing"));
        Assert.True(result.Rounds.Count <= maxRounds + 1);
        if (result.Converged) Assert.True(result.Rounds[^1].ExpectedDowntime <= options.MaxDowntime);
        else Assert.Equal(maxRounds + 1, result.Rounds.Count);
        // Only a round during which the guest wrote nothing meets a zero budget (round 0 can be that quick); later rounds cannot.
        if (maxDowntimeMs == 0) Assert.True(result.Converged ? result.Rounds is [{ DirtyPagesLeft: 0 }] : result.Rounds.Skip(1).All(r => r.DirtyPagesLeft > 0), string.Join("; ", result.Rounds));
        Assert.True(result.FinalPages >= 1, $"the guest dirtied no page between the last round and the pause; rounds: {string.Join("; ", result.Rounds)}");
        Assert.True(result.BytesOverRam > 0);

        // The guest goes on from where it stopped: no line lost or repeated, and its own checksum of the region is right.
        var exit = await RunToEnd(target);
        Assert.IsType<VcpuExit.PortIo>(exit);
        Assert.Equal(Guest.ExpectedConsole, _source.ConsoleAtPause + targetConsole.Text);
        Assert.Equal(Guest.ExpectedResultCode, target.DebugExit.ResultCode);
        Assert.StartsWith(GuestLibrary.CounterLine(0), _source.ConsoleAtPause);
        Assert.Contains("migrated VM dirtying-vm", target.Spec.Image.Name);
    }

    [Fact]
    public async Task A_target_that_refuses_leaves_the_source_running_and_the_reason_reaches_it()
    {
        _source.Allow(MigrateAfter);
        _source.Start();
        await _source.AfterLines(MigrateAfter);
        var receiving = ReceiveInBackground(new CapturingConsoleSink(), header => $"no room for {header.MemoryBytes} bytes");

        var e = Assert.Throws<MigrationException>(() => Migrate());
        Assert.Contains($"no room for {8 << 20} bytes", e.Message);
        await Assert.ThrowsAsync<MigrationException>(() => receiving);
        await AssertSourceEndsCorrectly(expectPauses: 0);
    }

    [Fact]
    public async Task A_stream_that_breaks_during_pre_copy_leaves_the_source_running_with_logging_off()
    {
        _source.Allow(MigrateAfter);
        _source.Start();
        await _source.AfterLines(MigrateAfter);
        // A target that accepts, takes two page batches and hangs up.
        var target = Task.Factory.StartNew(() =>
        {
            using var socket = _listener.AcceptTcpClient();
            using var channel = new MigrationChannel(socket.GetStream());
            channel.Expect(MigrationFrameKind.Header, "source");
            channel.Write(MigrationFrameKind.Accepted, ReadOnlySpan<byte>.Empty);
            channel.Flush();
            channel.Expect(MigrationFrameKind.Pages, "source");
            channel.Expect(MigrationFrameKind.Pages, "source");
            socket.Client.Close(0);
        }, TaskCreationOptions.LongRunning);

        var e = Assert.Throws<MigrationException>(() => Migrate());
        Assert.Contains("stream", e.Message);
        await target;
        Assert.False(_source.Parts.Vm.Memslots.ById(0)!.LogsDirtyPages, "dirty logging is still on after the failed migration");
        // The kernel's socket buffers take round 0 whole, so the source may notice the break only at its pause (writing
        // the state, waiting for Ready): then it resumed. Either way it runs on to a correct end.
        await AssertSourceEndsCorrectly(expectPauses: null);
    }

    [Fact]
    public async Task A_cancelled_migration_tells_the_target_and_leaves_the_source_running()
    {
        _source.Allow(MigrateAfter);
        _source.Start();
        await _source.AfterLines(MigrateAfter);
        var receiving = ReceiveInBackground(new CapturingConsoleSink());
        using var cancel = new CancellationTokenSource();
        var options = new PreCopyOptions { MaxDowntime = TimeSpan.Zero, MaxRounds = 5 };
        // Cancelled after the first round's report: the loop sees it before it sends anything more.
        Assert.ThrowsAny<OperationCanceledException>(() =>
        {
            using var client = new TcpClient();
            client.Connect(IPAddress.Loopback, Port);
            using var channel = new MigrationChannel(client.GetStream());
            PreCopySource.Run(_source, channel, options, _ => cancel.Cancel(), cancel.Token);
        });
        var e = await Assert.ThrowsAsync<MigrationException>(() => receiving);
        Assert.Contains("cancelled", e.Message);
        await AssertSourceEndsCorrectly(expectPauses: 0);
    }

    // A target that takes a header, accepts, answers each round's end after `applyDelay` with `ackBytes`(what it read), and
    // on the state says ready and confirms the go-ahead: a slow or lying target as the source sees it.
    private Task FakeTarget(TimeSpan applyDelay, Func<long, long> ackBytes) => Task.Factory.StartNew(() =>
    {
        using var socket = _listener.AcceptTcpClient();
        using var channel = new MigrationChannel(socket.GetStream());
        channel.Expect(MigrationFrameKind.Header, "source");
        channel.Write(MigrationFrameKind.Accepted, ReadOnlySpan<byte>.Empty);
        channel.Flush();
        for (var (kind, body) = channel.Read(); kind != MigrationFrameKind.State; (kind, body) = channel.Read())
        {
            if (kind == MigrationFrameKind.Abort) return;
            if (kind != MigrationFrameKind.RoundEnd) continue;
            // The simulated target's own work on the round (not a wait for anything): it applies it this slowly.
            Thread.Sleep(applyDelay);
            var round = System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(body);
            channel.Write(MigrationFrameKind.RoundApplied, new RoundAcknowledgement(round, ackBytes(channel.BytesRead)).Encode());
            channel.Flush();
        }
        channel.Write(MigrationFrameKind.Ready, ReadOnlySpan<byte>.Empty);
        channel.Expect(MigrationFrameKind.Go, "source");
        channel.Write(MigrationFrameKind.Committed, ReadOnlySpan<byte>.Empty);
        channel.Flush();
    }, TaskCreationOptions.LongRunning);

    [Fact]
    public async Task The_bandwidth_is_what_the_target_acknowledged_as_applied_not_what_the_socket_took()
    {
        _source.Allow(MigrateAfter);
        _source.Start();
        await _source.AfterLines(MigrateAfter);
        // Round 0's ~2 MB fit the kernel's socket buffers in milliseconds; a target that takes 300 ms to apply each round
        // makes the stream no faster than a round's bytes in 300 ms, which is what the source must report.
        var applyDelay = TimeSpan.FromMilliseconds(300);
        var target = FakeTarget(applyDelay, read => read);
        var result = Migrate(new PreCopyOptions { MaxRounds = 2 });
        await target;
        Assert.NotEmpty(result.Rounds);
        long wire = 0;
        foreach (var round in result.Rounds)
        {
            wire += round.WireBytes;
            Assert.True(round.Duration >= applyDelay, $"round {round.Number} took {round.Duration.TotalMilliseconds} ms");
            double most = wire / (applyDelay.TotalSeconds * (round.Number + 1));
            Assert.True(round.BandwidthBytesPerSecond <= most, $"round {round.Number}: {round.BandwidthBytesPerSecond:0} bytes/s reported, at most {most:0} applied");
            Assert.Equal(Expected(round.DirtyPagesLeft, round.BandwidthBytesPerSecond), round.ExpectedDowntime);
        }
    }

    private static TimeSpan Expected(long pages, double bandwidth) => TimeSpan.FromSeconds(pages * (double)PageBatchWriter.MaxPageWireBytes / bandwidth);

    [Fact]
    public async Task A_target_acknowledging_bytes_it_did_not_read_fails_the_migration_and_the_source_runs_on()
    {
        _source.Allow(MigrateAfter);
        _source.Start();
        await _source.AfterLines(MigrateAfter);
        var target = FakeTarget(TimeSpan.Zero, read => read - 1);
        var e = Assert.Throws<MigrationException>(() => Migrate());
        Assert.Contains("acknowledged round 0 after", e.Message);
        // The source hung up on it.
        await Assert.ThrowsAsync<MigrationException>(() => target);
        Assert.False(_source.Parts.Vm.Memslots.ById(0)!.LogsDirtyPages, "dirty logging is still on after the failed migration");
        await AssertSourceEndsCorrectly(expectPauses: 0);
    }

    [Fact]
    public async Task A_target_of_another_accelerator_kind_is_refused_before_any_page()
    {
        var header = new MigrationHeader { VmName = "kvm-vm", Accelerator = AcceleratorKind.Kvm, Image = "counter", VcpuCount = 1, Memory = [new(0, 0, 8 << 20)] };
        var receiving = ReceiveInBackground(new CapturingConsoleSink());
        using var client = new TcpClient();
        client.Connect(IPAddress.Loopback, Port);
        using var channel = new MigrationChannel(client.GetStream());
        channel.Write(MigrationFrameKind.Header, header.Encode());
        var e = Assert.Throws<MigrationException>(() => channel.Expect(MigrationFrameKind.Accepted, "target"));
        Assert.Contains("Kvm accelerator", e.Message);
        await Assert.ThrowsAsync<MigrationException>(() => receiving);
    }

    private async Task AssertSourceEndsCorrectly(int? expectPauses)
    {
        _source.Allow(int.MaxValue);
        var exit = await _source.Finished();
        Assert.IsType<VcpuExit.PortIo>(exit);
        Assert.Equal(Guest.ExpectedConsole, _sourceConsole.Text);
        Assert.Equal(Guest.ExpectedResultCode, _source.Parts.DebugExit.ResultCode);
        if (expectPauses is { } pauses) Assert.Equal(pauses, _source.Pauses);
        else Assert.InRange(_source.Pauses, 0, 1);
    }

    /// <summary>Runs a migrated machine's vCPU 0 to the guest's exit on a thread of its own.</summary>
    private sealed class RunningGuestOfTarget(MachineParts parts)
    {
        public Task<VcpuExit> Run() => Task.Factory.StartNew(() =>
        {
            while (true)
            {
                var exit = parts.Vcpus[0].Run(parts.Bus);
                if (exit is VcpuExit.Interrupted) continue;
                return exit;
            }
        }, TaskCreationOptions.LongRunning);
    }
}
