using System.Globalization;
using System.Text;
using Actorvisor.Hardware.Guests;
using Actorvisor.Host.Api.V1;

namespace Actorvisor.Host.Tests.Cluster;

/// <summary>Three software-accelerator node processes on loopback, for live migration between them.</summary>
public sealed class MigrationCluster : LocalCluster
{
    /// <inheritdoc />
    protected override IEnumerable<string> NodeArgs(int index) => [.. base.NodeArgs(index), "--accelerator", "software"];
}

/// <summary>
/// Live migration through the API on a 3-node loopback cluster (separate node processes): a guest that keeps writing
/// pages and printing a counter (the catalog's dirtying-counter) moves n1 -> n2 -> n3 -> n1; after each move `vm list`
/// shows it on its new node, its counter goes on with no line missing or repeated in the console stream of a subscriber
/// connected before the first move, and that subscriber's event stream goes on too. Then the failures: a target that
/// is unknown, the VM's own node or without room is refused up front; a cancel before switchover leaves the VM running
/// on its node; a target frozen, then killed, before switchover fails the migration with the reason and the VM runs on.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class MigrationClusterTests(MigrationCluster cluster) : IClassFixture<MigrationCluster>
{
    // A move of this 32 MiB guest takes ~0.3 s on loopback; the bounds are for a loaded CI machine.
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(90);
    private const string Vm = "mover";

    private async Task<T> Ok<T>(ApiRequest request) where T : IApiReply
    {
        var reply = await cluster.Client.RequestAsync(request);
        return reply is T t ? t : throw new Xunit.Sdk.XunitException($"{request} was answered with {reply}");
    }

    [Fact]
    public async Task A_running_guest_moves_round_the_nodes_and_its_console_and_events_go_on_and_failures_leave_it_running()
    {
        var console = new StringBuilder();
        var progress = new List<MigrationInfo>();
        var notices = new List<VmEventNotice>();
        var waiters = new List<(Func<bool> Done, TaskCompletionSource Reached)>();
        string? broken = null;
        void Check()
        {
            foreach (var w in waiters.Where(w => w.Done()).ToList())
            {
                w.Reached.TrySetResult();
                waiters.Remove(w);
            }
        }
        Task Until(Func<bool> done, string what)
        {
            var reached = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            lock (console)
            {
                if (done()) return Task.CompletedTask;
                waiters.Add((done, reached));
            }
            return reached.Task.WaitAsync(Wait).ContinueWith(t =>
            {
                if (t.IsFaulted) throw new Xunit.Sdk.XunitException($"timed out waiting for {what}; {broken ?? "console ends " + Tail()}");
            }, TaskScheduler.Default);
        }
        string Tail()
        {
            lock (console) return console.ToString()[^Math.Min(200, console.Length)..];
        }
        var consoleSubscriber = cluster.Client.Subscribe(m =>
        {
            lock (console)
            {
                if (m is ConsoleOutput o) console.Append(Encoding.Latin1.GetString(o.Bytes));
                if (m is StreamEnded e) console.Append($"\n[ended: {e.Reason}]\n");
                Check();
            }
        });
        var eventSubscriber = cluster.Client.Subscribe(m =>
        {
            lock (console)
            {
                if (m is MigrationProgress p) progress.Add(p.Migration);
                if (m is VmEventNotice n) notices.Add(n);
                Check();
            }
        });
        int Lines()
        {
            lock (console)
            {
                try
                {
                    return Counted(console.ToString());
                }
                catch (Xunit.Sdk.XunitException e)
                {
                    broken ??= e.Message;
                    return -1;
                }
            }
        }
        MigrationInfo? EndOf(string id)
        {
            lock (console) return progress.LastOrDefault(p => p.Id == id && p.Ended);
        }
        // The one node `vm list` shows it Running on, once the nodes' reports agree (the target lists it once it runs there,
        // the source stops listing it at switchover).
        async Task<string> NodeOf()
        {
            string node = "";
            await Eventually.HoldsAsync(async () =>
            {
                var lines = (await Ok<VmListReply>(new ListVmsRequest())).Vms.Where(v => v.Name == Vm).ToList();
                if (lines.Count != 1 || lines[0].Status != VmStatus.Running) return $"listed as {string.Join(", ", lines)}";
                node = lines[0].Node;
                return null;
            }, Wait);
            return node;
        }

        await Ok<VmReply>(new CreateVmRequest(new ApiVmSpec(Vm, 1, 32UL << 20, GuestCatalog.DirtyingLoop, Node: "n1")));
        try
        {
            await Ok<SubscribedReply>(new SubscribeConsoleRequest(Vm, consoleSubscriber));
            await Ok<SubscribedReply>(new SubscribeVmEventsRequest(Vm, eventSubscriber));
            await Ok<VmReply>(new StartVmRequest(Vm));
            await Until(() => Lines() > 200, "the first lines");

            // n1 -> n2 -> n3 -> n1: each completes, the VM is listed on its new node, the counter goes on past the move.
            foreach (var (from, to) in new[] { ("n1", "n2"), ("n2", "n3"), ("n3", "n1") })
            {
                var started = (await Ok<MigrationReply>(new MigrateVmRequest(Vm, to))).Migration;
                Assert.Equal((from, to, MigrationInfo.Running), (started.Source, started.Target, started.Status));
                await Until(() => EndOf(started.Id) is not null, $"the end of {started.Id}");
                var end = EndOf(started.Id)!;
                Assert.True(end.Status == MigrationInfo.Completed, $"{from} -> {to}: {end}");
                Assert.True(end.DowntimeMs > 0 && end.WireBytes > 0, end.ToString());
                Assert.Equal(to, await NodeOf());
                int atMove = Lines();
                await Until(() => Lines() > atMove + 200, $"lines printed on {to}");
                await Until(() => NoticeOf(notices, $"migrated to node {to}"), $"the event 'migrated to node {to}'");
            }
            var listed = await Ok<MigrationListReply>(new ListMigrationsRequest());
            Assert.Equal(3, listed.Migrations.Count(m => m.Vm == Vm && m.Status == MigrationInfo.Completed));

            // Refused up front: an unknown node, the VM's own node, a node without room for it.
            var unknown = Assert.IsType<ApiErrorReply>(await cluster.Client.RequestAsync(new MigrateVmRequest(Vm, "n9")));
            Assert.Equal((ApiErrorCode.NotFound, "to"), (unknown.Code, unknown.Field));
            var same = Assert.IsType<ApiErrorReply>(await cluster.Client.RequestAsync(new MigrateVmRequest(Vm, "n1")));
            Assert.Equal((ApiErrorCode.InvalidRequest, "to"), (same.Code, same.Field));
            await Ok<VmReply>(new CreateVmRequest(new ApiVmSpec("hog", 1, 240UL << 20, "spin", Node: "n2")));
            try
            {
                var full = Assert.IsType<ApiErrorReply>(await cluster.Client.RequestAsync(new MigrateVmRequest(Vm, "n2")));
                Assert.Equal((ApiErrorCode.NoCapacity, "to"), (full.Code, full.Field));
            }
            finally
            {
                await cluster.Client.RequestAsync(new DestroyVmRequest("hog"));
            }
            Assert.Equal("n1", await NodeOf());

            // Cancel before switchover: a 1 ms budget this guest never meets keeps pre-copy going for its 30 rounds.
            var cancelled = (await Ok<MigrationReply>(new MigrateVmRequest(Vm, "n2", MaxDowntimeMs: 1))).Migration;
            var afterCancel = (await Ok<MigrationReply>(new MigrateVmRequest(Vm, Cancel: true))).Migration;
            Assert.Equal((cancelled.Id, MigrationInfo.Cancelled), (afterCancel.Id, afterCancel.Status));
            Assert.Equal("n1", await NodeOf());
            int atCancel = Lines();
            await Until(() => Lines() > atCancel + 200, "lines printed on n1 after the cancel");

            // The target frozen once the migration runs (it can never answer Ready), then killed: the stream breaks.
            var doomed = (await Ok<MigrationReply>(new MigrateVmRequest(Vm, "n3", MaxDowntimeMs: 1))).Migration;
            cluster.Nodes[2].Freeze();
            cluster.Nodes[2].KillHard();
            await Until(() => EndOf(doomed.Id) is not null, $"the end of {doomed.Id}");
            var failed = EndOf(doomed.Id)!;
            Assert.True(failed.Status == MigrationInfo.Failed && !string.IsNullOrEmpty(failed.Reason), failed.ToString());
            Assert.Equal("n1", await NodeOf());
            int atFailure = Lines();
            await Until(() => Lines() > atFailure + 200, "lines printed on n1 after the failed migration");
        }
        finally
        {
            await cluster.Client.RequestAsync(new DestroyVmRequest(Vm));
        }
    }

    private static bool NoticeOf(List<VmEventNotice> notices, string detail) => notices.Any(n => n.Detail == detail);

    // The complete count= lines, which must run 0, 1, 2, ... with none missing or repeated (the last, partial line aside).
    // The catalog's dirtying-counter prints this many lines.
    private const int GuestLines = 1_000_000;

    private static int Counted(string text)
    {
        var lines = text.Split('\n');
        int expected = 0;
        foreach (var line in lines[..^1])
        {
            // The whole sequence printed, no line lost or repeated, then the guest's checksum: it ran to its end where it
            // was (a later phase can outlast the guest on a quiet machine), so any "more lines" wait is met.
            if (expected == GuestLines && line.StartsWith("checksum=", StringComparison.Ordinal)) return int.MaxValue;
            if (line.StartsWith("[ended:", StringComparison.Ordinal)) throw new Xunit.Sdk.XunitException($"the console stream ended: {line}");
            Assert.StartsWith("count=", line);
            uint n = uint.Parse(line["count=".Length..], NumberStyles.HexNumber, CultureInfo.InvariantCulture);
            if (n != expected) throw new Xunit.Sdk.XunitException($"line {expected} reads '{line}': a line was {(n > expected ? "lost" : "repeated")}");
            expected++;
        }
        return expected;
    }
}
