using System.Globalization;
using System.Text;
using System.Text.Json;
using Actorvisor.Hardware.Guests;
using Actorvisor.Host.Api.V1;
using Xunit.Abstractions;

namespace Actorvisor.Host.Tests.Cluster;

/// <summary>Three software-accelerator node processes on loopback, for live migration between them.</summary>
public sealed class MigrationCluster : LocalCluster
{
    /// <inheritdoc />
    protected override IEnumerable<string> NodeArgs(int index) => [.. base.NodeArgs(index), "--accelerator", "software"];
}

/// <summary>
/// Live migration on a 3-node loopback cluster (separate node processes, the software accelerator): the catalog's
/// dirtying-loop guest (it keeps writing pages, prints a counter and every 256 lines the sum of the pages it wrote) moves
/// n1 -> n2 by pre-copy, n2 -> n3 by post-copy (through the CLI, `vm migrate --postcopy always`) and n3 -> n1 with
/// post-copy "auto" and a bandwidth limit, then n1 -> n2 -> n1 -> n2 -> n1, each move asked for the moment the last is
/// heard completed. After each move `vm list` shows it on its new node, the migration says how it
/// switched over, and in the console stream of a subscriber connected before the first move the counter goes on with no
/// line missing or repeated and every sum the guest prints (two at least on the new node) is the one its line count
/// predicts: a dirty page a move lost would show as a wrong sum. That subscriber's event stream goes on too; `vm
/// migrations` (API and CLI) lists the three. Then the failures: a target that is unknown, the VM's own node or without
/// room is refused up front; a cancel before switchover leaves the VM running on its node; a target frozen, then killed,
/// before switchover fails the migration with the reason and the VM runs on.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class MigrationClusterTests(MigrationCluster cluster, ITestOutputHelper output) : IClassFixture<MigrationCluster>
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
        (int Lines, int Sums) Read()
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
                    return (-1, -1);
                }
            }
        }
        int Lines() => Read().Lines;
        int Sums() => Read().Sums;
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

            // n1 -> n2 (pre-copy), n2 -> n3 (post-copy, by the CLI), n3 -> n1 (auto, bandwidth-limited): each completes
            // the way it was asked to, the VM is listed on its new node, the counter and the guest's sums go on past the move.
            var moves = new[]
            {
                (From: "n1", To: "n2", Postcopy: "never", Bandwidth: (ulong?)null),
                (From: "n2", To: "n3", Postcopy: "always", Bandwidth: null),
                (From: "n3", To: "n1", Postcopy: "auto", Bandwidth: 64UL << 20),
            };
            var switchovers = new List<string?>();
            foreach (var (from, to, postcopy, bandwidth) in moves)
            {
                string id;
                if (postcopy == "always")
                {
                    var cli = await ActorvisorProcess.RunAsync(cluster.Cli(1, "vm", "migrate", Vm, "--to", to, "--postcopy", postcopy, "--json"), Wait);
                    Assert.True(cli.ExitCode == 0, cli.ToString());
                    var reported = cli.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonSerializer.Deserialize<MigrationInfo>(l, ClusterApiTests.ClusterJson)!).ToList();
                    Assert.Equal((from, to, MigrationInfo.Running), (reported[0].Source, reported[0].Target, reported[0].Status));
                    Assert.Equal((MigrationInfo.Completed, MigrationInfo.PostCopy), (reported[^1].Status, reported[^1].Switchover));
                    id = reported[0].Id;
                }
                else
                {
                    var started = (await Ok<MigrationReply>(new MigrateVmRequest(Vm, to, Postcopy: postcopy, BandwidthBytesPerSecond: bandwidth))).Migration;
                    Assert.Equal((from, to, MigrationInfo.Running), (started.Source, started.Target, started.Status));
                    id = started.Id;
                }
                await Until(() => EndOf(id) is not null, $"the end of {id}");
                var end = EndOf(id)!;
                Assert.True(end.Status == MigrationInfo.Completed, $"{from} -> {to}: {end}");
                Assert.True(end.DowntimeMs > 0 && end.WireBytes > 0, end.ToString());
                if (postcopy == "never") Assert.Equal(MigrationInfo.PreCopy, end.Switchover);
                if (postcopy == "always") Assert.Equal(MigrationInfo.PostCopy, end.Switchover);
                Assert.Contains(end.Switchover, new[] { MigrationInfo.PreCopy, MigrationInfo.PostCopy });
                switchovers.Add(end.Switchover);
                output.WriteLine($"{from} -> {to} ({postcopy}): {end.Switchover}, {end.Round + 1} round(s), {end.DowntimeMs:0.#} ms down, {end.WireBytes} bytes, at line {Lines()}");
                Assert.Equal(to, await NodeOf());
                // Two sums on: the later one at least was computed on the new node (the first could have left the source
                // just before its pause). Each is checked against the line count as the console is read.
                int atMove = Sums();
                await Until(() => Sums() >= atMove + 2, $"two sums printed on {to}");
                await Until(() => NoticeOf(notices, $"migrated to node {to}"), $"the event 'migrated to node {to}'");
            }
            var listed = await Ok<MigrationListReply>(new ListMigrationsRequest());
            Assert.Equal(switchovers, listed.Migrations.Where(m => m.Vm == Vm && m.Status == MigrationInfo.Completed).Reverse().Select(m => m.Switchover));
            var listedByCli = await ActorvisorProcess.RunAsync(cluster.Cli(2, "vm", "migrations", "--json"), Wait);
            Assert.True(listedByCli.ExitCode == 0, listedByCli.ToString());
            Assert.Equal(listed.Migrations.Select(m => (m.Id, m.Status, m.Switchover)),
                JsonSerializer.Deserialize<MigrationListReply>(listedByCli.Stdout, ClusterApiTests.ClusterJson)!.Migrations.Select(m => (m.Id, m.Status, m.Switchover)));

            // Straight back, four times: each move asked for the moment the last one is heard completed. "Completed" means
            // the source has forgotten its copy, so the node the VM just left takes it back (a source that still held the
            // name refused with "has a VM named 'mover' already").
            foreach (var to in new[] { "n2", "n1", "n2", "n1" })
            {
                var reply = await cluster.Client.RequestAsync(new MigrateVmRequest(Vm, to));
                var started = (reply as MigrationReply ?? throw new Xunit.Sdk.XunitException($"the move back to {to} was refused: {reply}")).Migration;
                await Until(() => EndOf(started.Id) is not null, $"the end of {started.Id}");
                Assert.True(EndOf(started.Id)!.Status == MigrationInfo.Completed, $"back to {to}: {EndOf(started.Id)}");
            }
            Assert.Equal("n1", await NodeOf());

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

    // The complete lines, the last partial one aside: count= lines that run 0, 1, 2, ... with none missing or repeated and,
    // after every SumEvery-th, the guest's sum= line with the value its line count predicts. Returns how many of each.
    // The catalog guest's defaults, which the API's image "dirtying-loop" runs with.
    private static readonly int SumEvery = Default("sum-every"), PagesPerLine = Default("pages-per-line");

    private static int Default(string parameter) => GuestCatalog.Find(GuestCatalog.DirtyingLoop)!.Parameters.Single(p => p.Name == parameter).Default;

    private static (int Lines, int Sums) Counted(string text)
    {
        var lines = text.Split('\n');
        int counted = 0, sums = 0;
        bool sumDue = false;
        foreach (var line in lines[..^1])
        {
            if (line.StartsWith("[ended:", StringComparison.Ordinal)) throw new Xunit.Sdk.XunitException($"the console stream ended: {line}");
            if (sumDue)
            {
                var expected = GuestLibrary.DirtyingLoopSumLine((uint)counted, PagesPerLine).TrimEnd('\n');
                if (line != expected)
                    throw new Xunit.Sdk.XunitException($"after line {counted - 1} the guest printed '{line}', not '{expected}': {(line.StartsWith("sum=", StringComparison.Ordinal) ? "a write to its memory was lost" : "its sum is missing")}");
                sums++;
                sumDue = false;
                continue;
            }
            Assert.StartsWith("count=", line);
            uint n = uint.Parse(line["count=".Length..], NumberStyles.HexNumber, CultureInfo.InvariantCulture);
            if (n != counted) throw new Xunit.Sdk.XunitException($"line {counted} reads '{line}': a line was {(n > counted ? "lost" : "repeated")}");
            counted++;
            sumDue = counted % SumEvery == 0;
        }
        return (counted, sums);
    }
}
