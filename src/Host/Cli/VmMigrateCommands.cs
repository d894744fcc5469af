using System.CommandLine;
using System.Globalization;
using Actorvisor.Host.Api.Client;
using Actorvisor.Host.Api.V1;
using Actorvisor.Host.Scenarios.Language;
using Spectre.Console;

namespace Actorvisor.Host.Cli;

/// <summary>
/// `actorvisor vm migrate NAME [--to NODE] [--max-downtime 100ms] [--postcopy auto|never|always] [--bandwidth LIMIT]
/// [--cancel]` (live migration, followed to its end with a progress bar, or JSON lines with --json) and
/// `actorvisor vm migrations` (running and recent ones).
/// </summary>
public static class VmMigrateCommands
{
    /// <summary>`vm migrate`.</summary>
    public static Command Migrate()
    {
        var name = new Argument<string>("name") { Description = "the VM's name (it must be running)" };
        var to = new Option<string?>("--to") { Description = "the node to move it to (default: placement picks a node of the same accelerator kind with room)" };
        var maxDowntime = new Option<string?>("--max-downtime") { Description = "the pause to aim for at switchover (e.g. 100ms, the default; 1s)" };
        var postcopy = new Option<string?>("--postcopy") { Description = "never (pre-copy; the default), always (post-copy after the first pass: the VM runs on the target at once, its missing pages fetched from the source), or auto (post-copy when pre-copy does not converge)" };
        var bandwidth = new Option<string?>("--bandwidth") { Description = "the most the stream may take per second (e.g. 100M)" };
        var cancel = new Option<bool>("--cancel") { Description = "cancel the VM's running migration (the VM goes on running where it is)" };
        var connection = new ClusterConnectionOptions();
        var command = new Command("migrate", "Move a running VM to another node by live migration, showing its progress until it ends")
        {
            name, to, maxDowntime, postcopy, bandwidth, cancel,
        };
        connection.AddTo(command);
        command.SetAction((parse, ct) =>
        {
            int? downtimeMs = null;
            if (parse.GetValue(maxDowntime) is { } text)
            {
                if (!Durations.TryParse(text, out var downtime)) return Task.FromResult(Usage($"--max-downtime: '{text}' is not a duration (e.g. 100ms, 1s)"));
                downtimeMs = (int)Math.Min(int.MaxValue, Math.Ceiling(downtime.TotalMilliseconds));
            }
            ulong? limit = null;
            if (parse.GetValue(bandwidth) is { } size)
            {
                if (!ByteSize.TryParse(size, out var bytes, out var error)) return Task.FromResult(Usage($"--bandwidth: {error}"));
                limit = bytes;
            }
            var request = new MigrateVmRequest(parse.GetValue(name)!, parse.GetValue(to), downtimeMs, parse.GetValue(postcopy), limit, parse.GetValue(cancel));
            if (ApiValidator.Validate(request) is { } invalid) return Task.FromResult(Usage(OptionOf(invalid)));
            return ClusterCliRunner.RunAsync(parse, connection, (client, json) => request.Cancel ? CancelAsync(client, request, json, ct) : FollowAsync(client, request, json, ct));
        });
        return command;
    }

    /// <summary>`vm migrations`.</summary>
    public static Command List()
    {
        var connection = new ClusterConnectionOptions();
        var command = new Command("migrations", "List the running and recent live migrations");
        connection.AddTo(command);
        command.SetAction((parse, ct) => ClusterCliRunner.RunAsync(parse, connection, async (client, json) =>
            ClusterCliRunner.Print<MigrationListReply>(await client.RequestAsync(new ListMigrationsRequest(), ct), json, list =>
            {
                if (list.Migrations.Count == 0)
                {
                    AnsiConsole.MarkupLine("No migrations.");
                    return;
                }
                var table = new Table().AddColumns("ID", "VM", "FROM", "TO", "STATUS", "BY", "ROUND", "DOWNTIME", "STARTED", "REASON");
                foreach (var m in list.Migrations)
                    table.AddRow(Esc(m.Id), Esc(m.Vm), Esc(m.Source), Esc(m.Target), StatusMarkup(m.Status), Esc(SwitchoverText(m) ?? "-"),
                        m.Round < 0 ? "-" : m.Round.ToString(CultureInfo.InvariantCulture),
                        m.DowntimeMs is { } d ? $"{d:0.#} ms" : "-", m.StartedAt.ToLocalTime().ToString("HH:mm:ss", CultureInfo.InvariantCulture), Esc(m.Reason ?? ""));
                AnsiConsole.Write(table);
            })));
        return command;
    }

    private static async Task<int> CancelAsync(ApiClient client, MigrateVmRequest request, bool json, CancellationToken ct)
    {
        var reply = await ClusterCliRunner.WithProgress(json, $"Cancelling the migration of VM {request.Name}...", () => client.RequestAsync(request, ct));
        return ClusterCliRunner.Print<MigrationReply>(reply, json, m => PrintEnd(m.Migration));
    }

    // Subscribes to the VM's events first, so no progress is missed, then asks; ends with the migration.
    private static async Task<int> FollowAsync(ApiClient client, MigrateVmRequest request, bool json, CancellationToken ct)
    {
        var ended = new TaskCompletionSource<MigrationInfo>(TaskCreationOptions.RunContinuationsAsynchronously);
        var targetNode = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        var heardFromTarget = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var rounds = System.Threading.Channels.Channel.CreateUnbounded<MigrationInfo>();
        string? id = null;
        var early = new List<MigrationInfo>();
        using var stdout = Console.OpenStandardOutput();
        var subscriber = client.Subscribe(message =>
        {
            if (message is VmEventNotice notice && notice.Vm == request.Name && targetNode.Task.IsCompletedSuccessfully && notice.Node == targetNode.Task.Result)
                heardFromTarget.TrySetResult();
            if (message is not MigrationProgress { Migration: var m } || m.Vm != request.Name) return;
            lock (early)
            {
                if (id is null)
                {
                    early.Add(m);
                    return;
                }
            }
            if (m.Id != id) return;
            rounds.Writer.TryWrite(m);
            if (m.Ended) ended.TrySetResult(m);
        });
        if (await client.RequestAsync(new SubscribeVmEventsRequest(request.Name, subscriber), ct) is ApiErrorReply notSubscribed) return ClusterCliRunner.Fail(notSubscribed, json);
        var reply = await client.RequestAsync(request, ct);
        if (reply is not MigrationReply started) return ClusterCliRunner.Print<MigrationReply>(reply, json, _ => { });
        targetNode.TrySetResult(started.Migration.Target);
        lock (early)
        {
            id = started.Migration.Id;
            foreach (var m in early.Where(m => m.Id == id))
            {
                rounds.Writer.TryWrite(m);
                if (m.Ended) ended.TrySetResult(m);
            }
        }
        if (json) WriteLine(stdout, started.Migration);
        MigrationInfo last;
        if (json || Console.IsOutputRedirected || !AnsiConsole.Profile.Capabilities.Interactive)
        {
            if (!json) Console.WriteLine($"Migrating VM {request.Name} from {started.Migration.Source} to {started.Migration.Target} ({started.Migration.Id})");
            var printing = Task.Run(async () =>
            {
                await foreach (var m in rounds.Reader.ReadAllAsync(ct))
                {
                    if (json) WriteLine(stdout, m);
                    else if (!m.Ended) Console.WriteLine(Describe(m));
                    if (m.Ended) return;
                }
            }, ct);
            last = await ended.Task.WaitAsync(ct);
            await printing;
        }
        else
        {
            last = await AnsiConsole.Progress().AutoClear(false)
                .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn())
                .StartAsync(async progress =>
                {
                    var bar = progress.AddTask($"{Esc(request.Name)}: {Esc(started.Migration.Source)} -> {Esc(started.Migration.Target)}", maxValue: 100);
                    await foreach (var m in rounds.Reader.ReadAllAsync(ct))
                    {
                        bar.Description = Esc(Describe(m));
                        // Sent of what is left: the full pass fills the bar to 90 %, the rounds after it the rest as the dirty set shrinks.
                        bar.Value = m.Ended ? 100 : m.Round < 0 ? 0 : Math.Min(99, 90 + 9 * (1 - Math.Min(1, m.DirtyPagesLeft * 4096.0 / Math.Max(1, m.MemoryBytes))));
                        if (m.Ended) return m;
                    }
                    return await ended.Task;
                });
        }
        if (!json) PrintEnd(last);
        // The target takes this subscription over after the switchover (its first notice is "migrated to node ..."):
        // leaving before it reached us would have the target connect to a process on its way out, and a node whose TLS
        // handshake to a peer fails that way shuts itself down (Akka.Remote's rule). So wait for it, a while at most.
        // Then the VM's node stops sending to us before we go, for the same reason.
        if (last.Status == MigrationInfo.Completed) await Task.WhenAny(heardFromTarget.Task, Task.Delay(TargetNoticeWait, ct));
        await client.RequestAsync(new UnsubscribeVmEventsRequest(request.Name, subscriber), ct);
        return last.Status == MigrationInfo.Completed ? ExitCodes.Ok : ClusterCliRunner.OperationFailed;
    }

    // How long a completed `vm migrate` waits for the target's first notice before it exits anyway (it comes within a
    // second on a quiet loopback cluster).
    private static readonly TimeSpan TargetNoticeWait = TimeSpan.FromSeconds(15);

    private static string Describe(MigrationInfo m) => m.Round < 0
        ? $"{m.Vm}: connecting to {m.Target}"
        : string.Create(CultureInfo.InvariantCulture,
            $"{m.Vm} -> {m.Target}: round {m.Round}, {m.DirtyPagesLeft} dirty pages left, dirty rate {m.DirtyPagesPerSecond * 4096 / 1e6:0.#} MB/s, " +
            $"bandwidth {m.BandwidthBytesPerSecond / 1e6:0.#} MB/s, expected downtime {m.ExpectedDowntimeMs:0.#} ms");

    private static void PrintEnd(MigrationInfo m)
    {
        var line = m.Status switch
        {
            MigrationInfo.Completed => $"VM [bold]{Esc(m.Vm)}[/] moved from {Esc(m.Source)} to {Esc(m.Target)}: [green]completed[/]{(SwitchoverText(m) is { } by ? $" by {Esc(by)}" : "")} after {m.Round + 1} round(s), " +
                string.Create(CultureInfo.InvariantCulture, $"{m.DowntimeMs:0.#} ms of downtime, {ClusterCliRunner.Size((ulong)(m.WireBytes ?? 0))} sent"),
            _ => $"VM [bold]{Esc(m.Vm)}[/] stays on {Esc(m.Source)}: migration to {Esc(m.Target)} {StatusMarkup(m.Status)}{(m.Reason is null ? "" : $" ({Esc(m.Reason)})")}",
        };
        AnsiConsole.MarkupLine(line);
    }

    private static string? SwitchoverText(MigrationInfo m) => m.Switchover switch
    {
        MigrationInfo.PreCopy => "pre-copy",
        MigrationInfo.PostCopy => "post-copy",
        _ => m.Switchover,
    };

    private static string StatusMarkup(string status) => status switch
    {
        MigrationInfo.Completed => "[green]completed[/]",
        MigrationInfo.Failed => "[red]failed[/]",
        MigrationInfo.Cancelled => "[yellow]cancelled[/]",
        _ => status,
    };

    private static string OptionOf(ApiErrorReply error) => error.Field switch
    {
        "to" or "postcopy" => "--" + error.Message,
        "maxDowntimeMs" => "--max-downtime" + error.Message["maxDowntimeMs".Length..],
        "bandwidthBytesPerSecond" => "--bandwidth" + error.Message["bandwidthBytesPerSecond".Length..],
        _ => error.Message,
    };

    private static string Esc(string text) => Markup.Escape(text);

    private static void WriteLine<T>(Stream stdout, T value) => VmCommand.WriteLine(stdout, value);

    private static int Usage(string message) => VmCommand.Usage(message);
}
