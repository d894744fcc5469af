using System.CommandLine;
using Actorvisor.Host.Api.Client;
using Actorvisor.Host.Api.V1;
using Spectre.Console;

namespace Actorvisor.Host.Cli;

/// <summary>
/// `actorvisor vm top`: a live table of the cluster's VMs (<see cref="VmTopTable"/>), asked for again every
/// --interval seconds through the cluster client or a node's HTTP API, until q (or Ctrl+C); --once prints one
/// table (or, with --json, the list) and exits.
/// </summary>
public static class VmTopCommand
{
    /// <summary>Builds the subcommand.</summary>
    public static Command Create()
    {
        var on = new Option<string?>("--on") { Description = "only the VMs of this node" };
        var interval = new Option<double>("--interval") { Description = "seconds between refreshes", DefaultValueFactory = _ => 2 };
        var once = new Option<bool>("--once") { Description = "print one table and exit" };
        interval.Validators.Add(r => { if (r.GetValueOrDefault<double>() is < 0.2 or > 3600) r.AddError("--interval must be 0.2..3600 seconds"); });
        var connection = new ClusterConnectionOptions();
        var http = new HttpApiOption();
        var command = new Command("top", "A live table of the cluster's VMs (state, uptime, restarts), refreshed until q is pressed") { on, interval, once };
        connection.AddTo(command);
        http.AddTo(command);
        command.SetAction((parse, ct) =>
        {
            var request = new ListVmsRequest(parse.GetValue(on));
            var seconds = TimeSpan.FromSeconds(parse.GetValue(interval));
            bool onlyOnce = parse.GetValue(once);
            if (parse.GetValue(connection.Json) && !onlyOnce)
            {
                Console.Error.WriteLine("actorvisor: --json: only with --once (a live table has no JSON form)");
                return Task.FromResult(ExitCodes.Usage);
            }
            return http.Given(parse) is { } url
                ? HttpApiOption.RunAsync(parse, connection, url, query => RunAsync(t => query.AskListAsync(request.Node, t), onlyOnce, query.Json, seconds, ct))
                : ClusterCliRunner.RunAsync(parse, connection, (client, json) => RunAsync(t => client.RequestAsync(request, t), onlyOnce, json, seconds, ct));
        });
        return command;
    }

    private static async Task<int> RunAsync(Func<CancellationToken, Task<IApiReply>> ask, bool once, bool json, TimeSpan interval, CancellationToken ct)
    {
        var first = await ask(ct).ConfigureAwait(false);
        if (once || first is not VmListReply list)
            return ClusterCliRunner.Print<VmListReply>(first, json, l => AnsiConsole.Write(VmTopTable.Build(l, DateTimeOffset.Now)));
        int exit = ExitCodes.Ok;
        try
        {
            await AnsiConsole.Live(VmTopTable.Build(list, DateTimeOffset.Now)).StartAsync(async live =>
            {
                while (!await QuitRequestedWithinAsync(interval, ct).ConfigureAwait(false))
                {
                    var reply = await ask(ct).ConfigureAwait(false);
                    if (reply is not VmListReply next)
                    {
                        exit = ClusterCliRunner.Print<VmListReply>(reply, json: false, _ => { });
                        return;
                    }
                    live.UpdateTarget(VmTopTable.Build(next, DateTimeOffset.Now));
                    live.Refresh();
                }
            }).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }
        return exit;
    }

    // Waits out the interval, checking the keyboard (when stdin is a terminal) for q every 50 ms; true once q was pressed.
    private static async Task<bool> QuitRequestedWithinAsync(TimeSpan interval, CancellationToken ct)
    {
        if (Console.IsInputRedirected)
        {
            await Task.Delay(interval, ct).ConfigureAwait(false);
            return false;
        }
        var until = DateTime.UtcNow + interval;
        while (DateTime.UtcNow < until)
        {
            while (Console.KeyAvailable)
            {
                if (Console.ReadKey(intercept: true).KeyChar is 'q' or 'Q') return true;
            }
            await Task.Delay(50, ct).ConfigureAwait(false);
        }
        return false;
    }
}
