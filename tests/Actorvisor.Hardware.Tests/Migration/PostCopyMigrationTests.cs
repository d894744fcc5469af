using System.Net;
using System.Net.Sockets;
using Actorvisor.Hardware.Accel;
using Actorvisor.Hardware.Devices;
using Actorvisor.Hardware.Guests;
using Actorvisor.Hardware.Machines;
using Actorvisor.Hardware.Migration;
using Actorvisor.Hardware.Soft;

namespace Actorvisor.Hardware.Tests.Migration;

/// <summary>
/// Post-copy live migration on the software accelerator without actors, between two machines over loopback TCP: the
/// dirtying counter guest switches over after the first pass (or when pre-copy does not converge, in auto mode) and
/// runs on the target at once, its missing pages faulting to the source through the target's userfaultfd-lazy memory
/// while the source pushes the rest. The guest's sequence continues and its own checksum comes out right; some pages
/// came by remote fault; with the target's guest held, the push alone brings them all. A source that stops mid post-copy fails the target's post-copy with
/// a reason that says so. A stream that breaks after the source's go-ahead leaves the source stopped, not resumed.
/// </summary>
public sealed class PostCopyMigrationTests : IDisposable
{
    private const int Lines = 3000, Pages = 512, PagesPerLine = 16, MigrateAfter = 50, LinesPerRound = 20;
    private static readonly GuestImage Guest = GuestLibrary.DirtyingCounter(Lines, Pages, PagesPerLine);
    private readonly SoftAccelerator _sourceAccelerator = new();
    private readonly SoftAccelerator _targetAccelerator = new();
    private readonly CapturingConsoleSink _sourceConsole = new();
    private readonly RunningGuest _source;
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);

    public PostCopyMigrationTests()
    {
        _source = new RunningGuest("postcopy-vm", MachineParts.Build(_sourceAccelerator, new MachineSpec { Image = Guest, MemoryBytes = 8 << 20 }, _sourceConsole), _sourceConsole);
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

    /// <summary>Starts the source guest and waits until it is held after its first lines.</summary>
    private async Task StartSource()
    {
        _source.Allow(MigrateAfter);
        _source.Start();
        await _source.AfterLines(MigrateAfter);
    }

    /// <summary>
    /// The target: receives, then runs the guest to its end at once (while post-copy still brings pages), or, with
    /// <paramref name="holdGuest"/>, only once post-copy has brought every page; the stream stays open until post-copy ends.
    /// </summary>
    private Task<(MigrationReceived Received, VcpuExit Exit)> ReceiveAndRun(CapturingConsoleSink console, bool holdGuest = false) => Task.Factory.StartNew(() =>
    {
        using var socket = _listener.AcceptTcpClient();
        socket.NoDelay = true;
        using var channel = new MigrationChannel(socket.GetStream());
        var received = MigrationTarget.Receive(_targetAccelerator, channel, console);
        if (holdGuest) received.PostCopy?.Completion.Wait(TimeSpan.FromMinutes(2));
        VcpuExit exit;
        while (true)
        {
            exit = received.Parts.Vcpus[0].Run(received.Parts.Bus);
            if (exit is not VcpuExit.Interrupted) break;
        }
        // The guest may end before the last push: the stream is needed until the source's end and this side's answer.
        received.PostCopy?.Completion.Wait(TimeSpan.FromMinutes(2));
        return (received, exit);
    }, TaskCreationOptions.LongRunning);

    private MigrationResult Migrate(PreCopyOptions options, CancellationToken cancel = default, Action<PreCopyRound>? onRound = null,
        (long Bytes, Action Then)? tripwire = null)
    {
        using var client = new TcpClient { NoDelay = true };
        client.Connect(IPAddress.Loopback, Port);
        Stream stream = client.GetStream();
        if (tripwire is { } t) stream = new Tripwire(stream, t.Bytes, t.Then);
        using var channel = new MigrationChannel(stream);
        return PreCopySource.Run(_source, channel, options, r =>
        {
            onRound?.Invoke(r);
            AwaitMoreLines(LinesPerRound);
        }, cancel);
    }

    private void AwaitMoreLines(int more)
    {
        int now = _sourceConsole.Text.Count(c => c == '\n');
        _source.Allow(now + more);
        // ~1 ms of guest time per 16 lines here; a stalled guest is what the bound catches.
        Assert.True(_source.AfterLines(now + more).Wait(TimeSpan.FromSeconds(60)), $"the source guest printed no {more} more lines after line {now}");
    }

    [Theory]
    [InlineData(PostCopyMode.Always)]
    [InlineData(PostCopyMode.Auto)]
    public async Task A_dirtying_guest_runs_on_the_target_at_once_and_its_missing_pages_follow(PostCopyMode mode)
    {
        await StartSource();
        var targetConsole = new CapturingConsoleSink();
        var target = ReceiveAndRun(targetConsole);
        // Auto: a zero budget, which only a round the guest wrote nothing in meets. The guest runs 20 lines during round 0
        // too: let go once 1 MB of round 0's 2.1 MB are on the stream, which the 4 MB/s limit stretches to half a second
        // (the 20 lines take a few ms here). So no round converges and pre-copy gives up after the round limit (or
        // sooner, if a round's dirty rate outruns the stream).
        // Always: 1 MB/s, so the push of the ~320 pages dirtied in round 0 takes over a second and the guest, running on
        // the target at once, faults on some of them first (unlimited, a loaded run once pushed them all before it ran).
        var options = mode == PostCopyMode.Always
            ? new PreCopyOptions { PostCopy = mode, BandwidthBytesPerSecond = 1 << 20 }
            : new PreCopyOptions { PostCopy = mode, MaxDowntime = TimeSpan.Zero, MaxRounds = 2, BandwidthBytesPerSecond = 4 << 20 };
        var result = Migrate(options, tripwire: mode == PostCopyMode.Auto ? (1 << 20, () => _source.Allow(MigrateAfter + LinesPerRound)) : null);
        var (received, exit) = await target;
        using var parts = received.Parts;

        Assert.True(result.PostCopy is not null, $"no post-copy; rounds: {string.Join("; ", result.Rounds)}");
        var postCopy = result.PostCopy;
        Assert.NotNull(received.PostCopy);
        await received.PostCopy.Completion;
        if (mode == PostCopyMode.Always)
        {
            Assert.Single(result.Rounds);
            // The guest is held after the lines it ran once round 0 was sent: the one discard round before the pause drops
            // every page they made stale, and the pause finds none left to drop.
            var discard = Assert.Single(result.DiscardRounds);
            Assert.Equal(result.PostCopy!.MissingPages, discard.Pages);
            Assert.InRange(received.DiscardCalls, 1, discard.Pages);
        }
        else
        {
            Assert.False(result.Converged, string.Join("; ", result.Rounds));
            Assert.InRange(result.Rounds.Count, 2, 3);
        }
        // Every page the target lacked came, pushed or asked for; the guest, running before they were all there, faulted
        // some to the source. How many came each way is a race (on a loaded machine the readahead once asked for every
        // page before the source's push thread ran): the push alone is what the held-guest test below checks.
        Assert.Equal(postCopy.MissingPages, postCopy.PagesPushed + postCopy.PagesRequested);
        Assert.Equal(postCopy.MissingPages, received.PostCopy.MissingAtStart);
        Assert.True(postCopy.MissingPages > 0);
        Assert.True(received.PostCopy.RemoteFaults >= 1, $"no remote fault for {postCopy.MissingPages} missing pages: the guest ran only after they all came");
        Assert.Equal((long)parts.LazyMemory!.PageCount, parts.LazyMemory.PresentPages);

        // The guest went on from where it stopped: no line lost or repeated, and its checksum of the region is right.
        Assert.IsType<VcpuExit.PortIo>(exit);
        Assert.Equal(Guest.ExpectedConsole, _source.ConsoleAtPause + targetConsole.Text);
        Assert.Equal(Guest.ExpectedResultCode, parts.DebugExit.ResultCode);
        Assert.Equal(1, _source.Pauses);
    }

    [Fact]
    public async Task With_the_target_guest_held_the_push_alone_brings_every_missing_page_and_the_guest_then_runs_on()
    {
        await StartSource();
        var targetConsole = new CapturingConsoleSink();
        var target = ReceiveAndRun(targetConsole, holdGuest: true);
        var result = Migrate(new PreCopyOptions { PostCopy = PostCopyMode.Always, BandwidthBytesPerSecond = 4 << 20 });
        var (received, exit) = await target;
        using var parts = received.Parts;

        var postCopy = Assert.IsType<PostCopyStats>(result.PostCopy);
        Assert.True(postCopy.MissingPages > 0);
        // Nothing ran on the target, so nothing was asked for: every missing page was pushed, each once.
        Assert.Equal((postCopy.MissingPages, 0L, 0L), (postCopy.PagesPushed, postCopy.PagesRequested, received.PostCopy!.RemoteFaults));
        Assert.Equal((long)parts.LazyMemory!.PageCount, parts.LazyMemory.PresentPages);
        Assert.IsType<VcpuExit.PortIo>(exit);
        Assert.Equal(Guest.ExpectedConsole, _source.ConsoleAtPause + targetConsole.Text);
        Assert.Equal(Guest.ExpectedResultCode, parts.DebugExit.ResultCode);
    }

    [Fact]
    public async Task A_source_that_stops_mid_post_copy_fails_the_target_with_a_reason_that_says_so()
    {
        await StartSource();
        var switchedOver = new TaskCompletionSource<MigrationReceived>(TaskCreationOptions.RunContinuationsAsynchronously);
        var targetDone = Task.Factory.StartNew(() =>
        {
            using var socket = _listener.AcceptTcpClient();
            using var channel = new MigrationChannel(socket.GetStream());
            var received = MigrationTarget.Receive(_targetAccelerator, channel, new CapturingConsoleSink());
            switchedOver.SetResult(received);
            // The target does not run the guest: only its post-copy stream matters here.
            var e = Assert.ThrowsAny<Exception>(() => received.PostCopy!.Completion.Wait(TimeSpan.FromMinutes(2)));
            received.Parts.Dispose();
            return e;
        }, TaskCreationOptions.LongRunning);
        using var cancel = new CancellationTokenSource();
        // 64 KiB/s: the push of the pages the guest dirtied in round 0 takes seconds; the source is stopped once the target runs.
        var options = new PreCopyOptions { PostCopy = PostCopyMode.Always, BandwidthBytesPerSecond = PreCopyOptions.MinBandwidthBytesPerSecond };
        _ = switchedOver.Task.ContinueWith(_ => cancel.Cancel(), TaskScheduler.Default);

        var sourceError = Assert.Throws<MigrationException>(() => Migrate(options, cancel.Token));
        Assert.True(sourceError.SourceStopped);
        Assert.Contains("cannot complete", sourceError.Message);
        var targetError = await targetDone;
        var failure = Assert.IsType<MigrationException>(targetError is AggregateException a ? a.InnerException : targetError);
        Assert.Contains("gone during post-copy", failure.Message);
        // The source was not resumed: its copy may not run once the target has.
        Assert.Equal(1, _source.Pauses);
        await Assert.ThrowsAsync<InvalidOperationException>(() => _source.Finished());
    }

    [Fact]
    public async Task A_stream_that_breaks_after_the_go_ahead_leaves_the_source_stopped_and_says_the_outcome_is_open()
    {
        await StartSource();
        // A target that takes everything, says it is ready, reads the go-ahead and hangs up before confirming it.
        var target = Task.Factory.StartNew(() =>
        {
            using var socket = _listener.AcceptTcpClient();
            using var channel = new MigrationChannel(socket.GetStream());
            channel.Expect(MigrationFrameKind.Header, "source");
            channel.Write(MigrationFrameKind.Accepted, ReadOnlySpan<byte>.Empty);
            channel.Flush();
            // Every round is acknowledged as applied (the source measures the stream by the acknowledgements).
            for (var (kind, body) = channel.Read(); kind != MigrationFrameKind.State; (kind, body) = channel.Read())
                if (kind == MigrationFrameKind.RoundEnd) RoundAcknowledgement.Answer(channel, body);
            channel.Write(MigrationFrameKind.Ready, ReadOnlySpan<byte>.Empty);
            channel.Expect(MigrationFrameKind.Go, "source");
            socket.Client.Close(0);
        }, TaskCreationOptions.LongRunning);

        var e = Assert.Throws<MigrationException>(() => Migrate(new PreCopyOptions()));
        await target;
        Assert.True(e.SourceStopped);
        Assert.Contains("may or may not run", e.Message);
        Assert.Equal(1, _source.Pauses);
        await Assert.ThrowsAsync<InvalidOperationException>(() => _source.Finished());
    }

    [Fact]
    public async Task A_target_whose_owner_refuses_the_built_machine_leaves_the_source_running()
    {
        await StartSource();
        MigrationReceived? offered = null;
        var receiving = Task.Factory.StartNew(() =>
        {
            using var socket = _listener.AcceptTcpClient();
            using var channel = new MigrationChannel(socket.GetStream());
            return MigrationTarget.Receive(_targetAccelerator, channel, new CapturingConsoleSink(), handOver: r =>
            {
                offered = r;
                return "a VM of that name exists here";
            });
        }, TaskCreationOptions.LongRunning);

        var e = Assert.Throws<MigrationException>(() => Migrate(new PreCopyOptions { PostCopy = PostCopyMode.Always }));
        Assert.False(e.SourceStopped);
        Assert.Contains("a VM of that name exists here", e.Message);
        await Assert.ThrowsAsync<MigrationException>(() => receiving);
        Assert.NotNull(offered);
        Assert.True(offered.Parts.LazyMemory!.IsClosed, "the refused machine was not released");
        // Refused before the go-ahead: the source resumed and runs to a correct end.
        _source.Allow(int.MaxValue);
        Assert.IsType<VcpuExit.PortIo>(await _source.Finished());
        Assert.Equal(Guest.ExpectedConsole, _sourceConsole.Text);
    }

    [Fact]
    public async Task A_bandwidth_limit_holds_the_stream_to_its_rate_and_the_estimates_use_it()
    {
        await StartSource();
        var targetConsole = new CapturingConsoleSink();
        var target = ReceiveAndRun(targetConsole);
        const long limit = 4 << 20;
        var started = System.Diagnostics.Stopwatch.StartNew();
        var result = Migrate(new PreCopyOptions { BandwidthBytesPerSecond = limit, MaxRounds = 3 });
        var elapsed = started.Elapsed;
        var (received, exit) = await target;
        using var parts = received.Parts;
        // Round 0 alone is over 0.5 MB of pages: at 4 MB/s the run cannot be faster than its bytes over the rate (less the
        // bucket's first tenth of a second); unlimited it takes a few ms here.
        Assert.True(elapsed.TotalSeconds >= result.WireBytes / (double)limit - 0.1, $"{result.WireBytes} bytes in {elapsed.TotalSeconds:0.000} s");
        Assert.All(result.Rounds, r => Assert.True(r.BandwidthBytesPerSecond <= limit, $"round {r.Number}: {r.BandwidthBytesPerSecond} bytes/s"));
        Assert.IsType<VcpuExit.PortIo>(exit);
        Assert.Equal(Guest.ExpectedConsole, _source.ConsoleAtPause + targetConsole.Text);
    }

    [Fact]
    public void The_header_carries_the_machine_platform_and_whether_post_copy_may_follow()
    {
        var header = new MigrationHeader
        {
            VmName = "pc-vm", Accelerator = AcceleratorKind.Kvm, Image = "linux", Platform = X86.GuestPlatform.Pc, PostCopy = true, VcpuCount = 2,
            Memory = [new(0, 0, 64 << 20)],
        };
        var decoded = MigrationHeader.Decode(header.Encode());
        Assert.Equal(X86.GuestPlatform.Pc, decoded.Platform);
        Assert.True(decoded.PostCopy);
        Assert.Equal(header.Memory, decoded.Memory);
        Assert.False(MigrationHeader.Decode((header with { Platform = X86.GuestPlatform.Minimal, PostCopy = false }).Encode()).PostCopy);
    }

    /// <summary>A stream that calls <c>then</c> once, when the bytes written through it first reach <c>bytes</c>.</summary>
    private sealed class Tripwire(Stream inner, long bytes, Action then) : Stream
    {
        private long _written;

        public override bool CanRead => inner.CanRead;
        public override bool CanSeek => false;
        public override bool CanWrite => inner.CanWrite;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() => inner.Flush();
        public override int Read(byte[] buffer, int offset, int count) => inner.Read(buffer, offset, count);
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count)
        {
            inner.Write(buffer, offset, count);
            long before = _written;
            _written += count;
            if (before < bytes && _written >= bytes) then();
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing) inner.Dispose();
            base.Dispose(disposing);
        }
    }
}
