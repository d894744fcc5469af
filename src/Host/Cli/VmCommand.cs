using System.CommandLine;
using System.Text.Json;
using Actorvisor.Host.Api;
using Actorvisor.Host.Api.Client;
using Actorvisor.Host.Api.V1;
using Spectre.Console;

namespace Actorvisor.Host.Cli;

/// <summary>`actorvisor vm create|list|describe|start|pause|resume|stop|destroy|console|events|snapshot|restore|top|migrate|migrations`: drives VMs through any node's API.</summary>
public static class VmCommand
{
    /// <summary>Builds the command tree.</summary>
    public static Command Create() => new("vm", "Create and drive VMs in an Actorvisor cluster (through any node)")
    {
        CreateCommand(), ListCommand(), DescribeCommand(),
        Lifecycle("start", "Start a created VM", n => new StartVmRequest(n)),
        Lifecycle("pause", "Pause a running VM (every vCPU parked)", n => new PauseVmRequest(n)),
        Lifecycle("resume", "Resume a paused VM", n => new ResumeVmRequest(n)),
        Lifecycle("stop", "Stop a VM (it stays listed as Stopped until destroyed)", n => new StopVmRequest(n)),
        Lifecycle("destroy", "Destroy a VM and free its name (also a Lost one)", n => new DestroyVmRequest(n)),
        ConsoleCommand(), EventsCommand(), VmSnapshotCommands.Snapshot(), VmSnapshotCommands.Restore(), VmTopCommand.Create(),
        VmMigrateCommands.Migrate(), VmMigrateCommands.List(),
    };

    private static Argument<string> NameArgument() => new("name") { Description = "the VM's name" };

    private static Command CreateCommand()
    {
        var name = NameArgument();
        var image = new Option<string>("--image") { Description = "a library guest (e.g. hello) or an image file path on the node", Required = true };
        var vcpus = new Option<int>("--vcpus") { Description = "vCPUs", DefaultValueFactory = _ => 1 };
        var memory = new Option<string>("--memory") { Description = "guest RAM, e.g. 16M", DefaultValueFactory = _ => "16M" };
        var mode = new Option<string?>("--mode") { Description = "boot mode: real, protected or long (default: the image's)" };
        var format = new Option<string?>("--format") { Description = "an image file's format: flat, elf, bootsector or multiboot (default: detected on the node)" };
        var cmdline = CommonOptions.CommandLine();
        var module = CommonOptions.Module();
        var disk = CommonOptions.Disk();
        var vsock = CommonOptions.Vsock();
        var net = CommonOptions.Net();
        var on = new Option<string?>("--on") { Description = "the node to create it on (default: placement picks the node with the most free capacity)" };
        var cpuLimit = new Option<double?>("--cpu-limit") { Description = "the most CPU time its vCPUs may use together, in CPUs (e.g. 0.5: half a core; default: no limit)" };
        var start = new Option<bool>("--start") { Description = "start it once created" };
        var restart = new Option<string?>("--restart")
        {
            Description = "restart policy: never (default), on-failure (restarted when it fails; started again when its node comes back if it was running) or always",
        };
        var snapshotOnStop = new Option<bool>("--snapshot-on-stop")
        {
            Description = "managed save: when its node stops gracefully (SIGTERM) the VM is snapshotted, and restored from that snapshot when the node starts again (the guest continues)",
        };
        var connection = new ClusterConnectionOptions();
        var command = new Command("create", "Create a VM (placed on the hypervisor with the most free capacity unless --on is given)")
        {
            name, image, vcpus, memory, mode, format, cmdline, module, disk, net, vsock, on, cpuLimit, start, restart, snapshotOnStop,
        };
        connection.AddTo(command);
        command.SetAction((parse, ct) =>
        {
            if (!ByteSize.TryParse(parse.GetValue(memory)!, out var bytes, out var sizeError))
                return Task.FromResult(Usage($"--memory: {sizeError}"));
            var modules = parse.GetValue(module);
            var disks = parse.GetValue(disk);
            var nets = parse.GetValue(net);
            var spec = new ApiVmSpec(parse.GetValue(name)!, parse.GetValue(vcpus), bytes, parse.GetValue(image)!, parse.GetValue(mode), parse.GetValue(on),
                parse.GetValue(format), parse.GetValue(cmdline), modules is { Length: > 0 } ? modules : null, parse.GetValue(restart), parse.GetValue(cpuLimit),
                Disks: disks is { Length: > 0 } ? disks : null, SnapshotOnStop: parse.GetValue(snapshotOnStop) ? true : null,
                Nets: nets is { Length: > 0 } ? nets : null, VsockCid: parse.GetValue(vsock));
            var request = new CreateVmRequest(spec);
            if (ApiValidator.Validate(request, HardwareSpecLimits.Current) is { } invalid) return Task.FromResult(Usage(OptionOf(invalid)));
            return ClusterCliRunner.RunAsync(parse, connection, async (client, json) =>
            {
                var reply = await ClusterCliRunner.WithProgress(json, $"Creating VM {spec.Name}...", () => client.RequestAsync(request, ct));
                if (reply is VmReply && parse.GetValue(start))
                    reply = await ClusterCliRunner.WithProgress(json, $"Starting VM {spec.Name}...", () => client.RequestAsync(new StartVmRequest(spec.Name), ct));
                return ClusterCliRunner.Print<VmReply>(reply, json, PrintVm);
            });
        });
        return command;
    }

    private static Command ListCommand()
    {
        var on = new Option<string?>("--on") { Description = "only the VMs of this node" };
        var connection = new ClusterConnectionOptions();
        var http = new HttpApiOption();
        var command = new Command("list", "List the cluster's VMs") { on };
        connection.AddTo(command);
        http.AddTo(command);
        command.SetAction((parse, ct) => http.Given(parse) is { } url
            ? HttpApiOption.RunAsync(parse, connection, url, query => query.ListAsync(parse.GetValue(on), ct))
            : ClusterCliRunner.RunAsync(parse, connection, async (client, json) =>
                ClusterCliRunner.Print<VmListReply>(await client.RequestAsync(new ListVmsRequest(parse.GetValue(on)), ct), json, VmTables.PrintList)));
        return command;
    }

    private static Command DescribeCommand()
    {
        var name = NameArgument();
        var connection = new ClusterConnectionOptions();
        var http = new HttpApiOption();
        var command = new Command("describe", "Show one VM in detail") { name };
        connection.AddTo(command);
        http.AddTo(command);
        command.SetAction((parse, ct) =>
        {
            if (http.Given(parse) is not { } url)
            {
                return Named(parse, name, connection, async (client, json, vm) =>
                    ClusterCliRunner.Print<VmDescriptionReply>(await client.RequestAsync(new DescribeVmRequest(vm), ct), json, VmTables.PrintDescription));
            }
            var vm = parse.GetValue(name)!;
            if (ApiValidator.Name("name", vm) is { } invalid) return Task.FromResult(Usage(invalid.Message));
            return HttpApiOption.RunAsync(parse, connection, url, query => query.DescribeAsync(vm, ct));
        });
        return command;
    }

    private static Command Lifecycle(string verb, string description, Func<string, ApiRequest> request)
    {
        var name = NameArgument();
        var connection = new ClusterConnectionOptions();
        var command = new Command(verb, description) { name };
        connection.AddTo(command);
        command.SetAction((parse, ct) => Named(parse, name, connection, async (client, json, vm) =>
        {
            var reply = await ClusterCliRunner.WithProgress(json, $"{char.ToUpperInvariant(verb[0])}{verb[1..]}ing VM {vm}...", () => client.RequestAsync(request(vm), ct));
            return ClusterCliRunner.Print<VmReply>(reply, json, PrintVm);
        }));
        return command;
    }

    private static Command ConsoleCommand()
    {
        var name = NameArgument();
        var start = new Option<bool>("--start") { Description = "start the VM once subscribed (nothing it prints is missed)" };
        var noInput = new Option<bool>("--no-input") { Description = "do not forward stdin to the VM's console (by default what is typed or piped in is sent)" };
        var connection = new ClusterConnectionOptions();
        var command = new Command("console", "Stream a VM's serial console (what it printed so far, then live) until it ends; stdin is sent to it as console input") { name, start, noInput };
        connection.AddTo(command);
        command.SetAction((parse, ct) => Named(parse, name, connection, async (client, json, vm) =>
        {
            var ended = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
            using var stdout = Console.OpenStandardOutput();
            var subscriber = client.Subscribe(message =>
            {
                switch (message)
                {
                    case ConsoleOutput output:
                        if (json) WriteLine(stdout, new { type = "console", vm = output.Vm, text = System.Text.Encoding.Latin1.GetString(output.Bytes) });
                        else stdout.Write(output.Bytes);
                        stdout.Flush();
                        break;
                    case VmEventNotice notice when notice.Status == VmStatus.Lost:
                        if (json) WriteLine(stdout, new { type = "lost", vm = notice.Vm, detail = notice.Detail });
                        else Console.Error.WriteLine($"\n[actorvisor] VM {notice.Vm} is Lost: {notice.Detail}");
                        ended.TrySetResult(ClusterCliRunner.OperationFailed);
                        break;
                    case StreamEnded end:
                        if (json) WriteLine(stdout, new { type = "ended", vm = end.Vm, reason = end.Reason });
                        else Console.Error.WriteLine($"\n[actorvisor] {end.Reason}");
                        ended.TrySetResult(ExitCodes.Ok);
                        break;
                }
            });
            // Events too: a console stream cannot report that its node died, the directory can.
            var events = await client.RequestAsync(new SubscribeVmEventsRequest(vm, subscriber), ct);
            if (events is ApiErrorReply eventsError) return ClusterCliRunner.Fail(eventsError, json);
            var subscribed = await client.RequestAsync(new SubscribeConsoleRequest(vm, subscriber), ct);
            if (subscribed is ApiErrorReply error) return ClusterCliRunner.Fail(error, json);
            if (parse.GetValue(start) && await client.RequestAsync(new StartVmRequest(vm), ct) is ApiErrorReply startError)
                return ClusterCliRunner.Fail(startError, json);
            if (!parse.GetValue(noInput)) ConsoleInputForwarder.Start(Console.OpenStandardInput(), text => client.RequestAsync(new SendConsoleInputRequest(vm, text), ct), ended.Task);
            return await ended.Task.WaitAsync(ct);
        }));
        return command;
    }

    private static Command EventsCommand()
    {
        var name = new Argument<string?>("name") { Description = "the VM (default: every VM)", Arity = ArgumentArity.ZeroOrOne };
        var count = new Option<int?>("--count") { Description = "exit after this many events" };
        var connection = new ClusterConnectionOptions();
        var command = new Command("events", "Stream VM state changes (including Lost when a node goes away)") { name, count };
        connection.AddTo(command);
        command.SetAction((parse, ct) =>
        {
            var vm = parse.GetValue(name);
            if (vm is not null && ApiValidator.Name("name", vm) is { } invalid) return Task.FromResult(Usage(invalid.Message));
            return ClusterCliRunner.RunAsync(parse, connection, async (client, json) =>
            {
                var done = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
                int seen = 0, limit = parse.GetValue(count) ?? int.MaxValue;
                using var stdout = Console.OpenStandardOutput();
                var subscriber = client.Subscribe(message =>
                {
                    if (message is VmEventNotice n)
                    {
                        if (json) WriteLine(stdout, n);
                        else Console.WriteLine($"{n.At:HH:mm:ss.fff} {n.Vm} on {n.Node}: {n.Status} ({n.Detail})");
                        if (++seen >= limit) done.TrySetResult(ExitCodes.Ok);
                    }
                    else if (message is StreamEnded end)
                    {
                        done.TrySetResult(ExitCodes.Ok);
                    }
                });
                if (await client.RequestAsync(new SubscribeVmEventsRequest(vm, subscriber), ct) is ApiErrorReply error) return ClusterCliRunner.Fail(error, json);
                return await done.Task.WaitAsync(ct);
            });
        });
        return command;
    }

    private static Task<int> Named(ParseResult parse, Argument<string> name, ClusterConnectionOptions connection, Func<ApiClient, bool, string, Task<int>> body)
    {
        var vm = parse.GetValue(name)!;
        if (ApiValidator.Name("name", vm) is { } invalid) return Task.FromResult(Usage(invalid.Message));
        return ClusterCliRunner.RunAsync(parse, connection, (client, json) => body(client, json, vm));
    }

    private static void PrintVm(VmReply reply)
    {
        var vm = reply.Vm;
        AnsiConsole.MarkupLine($"VM [bold]{Esc(vm.Name)}[/] on {Esc(vm.Node)}: {StatusMarkup(vm.Status)}{(vm.Outcome is null ? "" : $" ({Esc(vm.Outcome)})")}");
    }

    internal static string StatusMarkup(VmStatus status) => status switch
    {
        VmStatus.Running => "[green]Running[/]",
        VmStatus.Paused => "[yellow]Paused[/]",
        VmStatus.Failed => "[red]Failed[/]",
        VmStatus.Lost => "[red bold]Lost[/]",
        _ => status.ToString(),
    };

    private static string Esc(string text) => Markup.Escape(text);

    /// <summary>Writes <paramref name="value"/> as one JSON line (for --json streams).</summary>
    internal static void WriteLine<T>(Stream stdout, T value)
    {
        stdout.Write(JsonSerializer.SerializeToUtf8Bytes(value, ClusterCliRunner.JsonLine));
        stdout.WriteByte((byte)'\n');
        stdout.Flush();
    }

    // Map an API field to the option the user typed.
    private static string OptionOf(ApiErrorReply error) => error.Field switch
    {
        "spec.name" => "name" + error.Message["spec.name".Length..],
        "spec.vcpus" => "--vcpus" + error.Message["spec.vcpus".Length..],
        "spec.memoryBytes" => "--memory" + error.Message["spec.memoryBytes".Length..],
        "spec.image" => "--image" + error.Message["spec.image".Length..],
        "spec.bootMode" => "--mode" + error.Message["spec.bootMode".Length..],
        "spec.node" => "--on" + error.Message["spec.node".Length..],
        "spec.format" => "--format" + error.Message["spec.format".Length..],
        "spec.commandLine" => "--cmdline" + error.Message["spec.commandLine".Length..],
        "spec.restart" => "--restart" + error.Message["spec.restart".Length..],
        "spec.cpuLimit" => "--cpu-limit" + error.Message["spec.cpuLimit".Length..],
        { } f when f.StartsWith("spec.modules", StringComparison.Ordinal) => "--module" + error.Message[f.Length..],
        { } f when f.StartsWith("spec.disks", StringComparison.Ordinal) => "--disk" + error.Message[f.Length..],
        "spec.vsockCid" => "--vsock" + error.Message["spec.vsockCid".Length..],
        { } f when f.StartsWith("spec.nets", StringComparison.Ordinal) => "--net" + error.Message[f.Length..],
        _ => error.Message,
    };

    /// <summary>Prints a usage error; returns its exit code.</summary>
    internal static int Usage(string message)
    {
        Console.Error.WriteLine($"actorvisor: {message}");
        return ExitCodes.Usage;
    }
}
