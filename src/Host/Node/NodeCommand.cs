using System.CommandLine;
using Actorvisor.Host.Cli;

namespace Actorvisor.Host.Node;

/// <summary>`actorvisor node`: runs the node daemon (settings from --config, ACTORVISOR_Section__Key variables and these flags).</summary>
public static class NodeCommand
{
    /// <summary>Builds the command.</summary>
    public static Command Create()
    {
        var config = new Option<FileInfo?>("--config") { Description = "JSON settings file (sections Cluster, Node, Capacity, Api, Tls, Logging; see deploy/README.md)" };
        var check = new Option<bool>("--check-config") { Description = "validate the settings, check the host (one line per check: ok or missing and how to grant it), exit 2 if something the settings need is missing" };
        var settingsHelp = new Option<bool>("--list-settings") { Description = "print every setting with its meaning and exit" };
        var stdinEof = new Option<bool>("--stop-on-stdin-eof") { Description = "stop gracefully when standard input closes (for a supervising process: its exit stops the node)" };
        // Each flag overrides one setting of the file and the environment.
        var flags = new (Option Option, string Setting)[]
        {
            (Flag("--cluster", "cluster name"), "Cluster:Name"),
            (Flag("--seed", "seed node host:port (repeatable)", many: true), "Cluster:SeedNodes"),
            (Flag("--stable-after", "split-brain resolver stable-after, e.g. 20s"), "Cluster:StableAfter"),
            (Flag("--heartbeat-pause", "failure detector acceptable heartbeat pause, e.g. 3s"), "Cluster:HeartbeatPause"),
            (Flag("--name", "node name"), "Node:Name"),
            (Flag("--host", "interface to bind"), "Node:Host"),
            (Flag("--public-host", "host name other nodes use"), "Node:PublicHost"),
            (Flag("--port", "remoting port"), "Node:Port"),
            (Flag("--data-dir", "data directory"), "Node:DataDir"),
            (Flag("--image-dir", "directory VM image files may come from (repeatable)", many: true), "Node:ImageDirectories"),
            (Flag("--snapshot-dir", "directory VM snapshots are written to and restored from (repeatable; the first is written)", many: true), "Node:SnapshotDirectories"),
            (Flag("--accelerator", "auto, kvm or software"), "Node:Accelerator"),
            (Flag("--vcpus", "vCPUs this node hands out"), "Capacity:Vcpus"),
            (Flag("--memory", "guest RAM this node hands out, e.g. 8G"), "Capacity:Memory"),
            (Flag("--api-token-file", "file holding the shared API token"), "Api:TokenFile"),
            (Flag("--tls-certificate", "PKCS#12 certificate for TLS"), "Tls:Certificate"),
            (Flag("--tls-password-file", "file holding the certificate's password"), "Tls:PasswordFile"),
            (Flag("--tls-ca", "CA certificate peers must be issued by"), "Tls:CaCertificate"),
            (Flag("--log-level", "Debug, Information, Warning or Error"), "Logging:Level"),
            (Flag("--log-format", "console log format: simple or json"), "Logging:Format"),
            (Flag("--http", "IP:port of the HTTP endpoint (web view, /api/v1, /metrics, /healthz, /readyz); off unless given"), "Node:HttpEndpoint"),
        };
        var command = new Command("node", "Run the Actorvisor node daemon: a cluster member of role hypervisor that runs VMs and serves the API");
        command.Options.Add(config);
        command.Options.Add(check);
        command.Options.Add(settingsHelp);
        command.Options.Add(stdinEof);
        foreach (var (option, _) in flags) command.Options.Add(option);
        // Synchronous on purpose: the generic host handles SIGTERM/SIGINT itself and must be allowed to finish
        // tearing VMs down and leaving the cluster.
        command.SetAction(parse =>
        {
            if (parse.GetValue(settingsHelp))
            {
                foreach (var (key, meaning) in NodeSettingsLoader.Known) Console.WriteLine($"{key,-24} {meaning}");
                return ExitCodes.Ok;
            }
            var overrides = new Dictionary<string, IReadOnlyList<string>>(StringComparer.OrdinalIgnoreCase);
            foreach (var (option, setting) in flags)
            {
                var values = option switch
                {
                    Option<string[]> list => parse.GetValue(list) ?? [],
                    Option<string?> one => parse.GetValue(one) is { } v ? [v] : [],
                    _ => [],
                };
                if (values.Length > 0) overrides[setting] = values;
            }
            NodeSettings settings;
            try
            {
                settings = NodeSettingsLoader.Load(parse.GetValue(config)?.FullName, overrides, Environment.GetEnvironmentVariables());
                if (parse.GetValue(check))
                {
                    Console.WriteLine($"settings OK: node {settings.NodeName} at {settings.Address}, seeds [{string.Join(", ", settings.SeedNodes)}], " +
                        $"{settings.Vcpus} vCPUs, {settings.MemoryBytes >> 20} MiB, accelerator {settings.Accelerator}, data {settings.DataDir}, " +
                        $"API token {(settings.ApiToken is null ? "off" : "on")}, TLS {(settings.Tls is null ? "off" : "on")}");
                    var checks = HostRequirements.Check(settings);
                    foreach (var line in checks) Console.WriteLine(line);
                    if (checks.Any(c => c.Fatal)) return ExitCodes.Usage;
                    // The state database too, if there is one (a check creates nothing).
                    var statePath = State.NodeStateStore.PathIn(settings.DataDir);
                    if (File.Exists(statePath))
                    {
                        using var state = State.NodeStateStore.Open(statePath);
                        Console.WriteLine($"state OK: {statePath}, {state.Load().Count} VM(s) to recreate");
                    }
                    return ExitCodes.Ok;
                }
                using var stop = new CancellationTokenSource();
                if (parse.GetValue(stdinEof))
                {
                    // The parent holds our stdin: when it exits, even by SIGKILL, the pipe closes and we leave cleanly.
                    _ = Task.Run(async () =>
                    {
                        using var stdin = Console.OpenStandardInput();
                        var buffer = new byte[256];
                        while (await stdin.ReadAsync(buffer) > 0) { }
                        await stop.CancelAsync();
                    });
                }
                return NodeHost.RunAsync(settings, stop.Token).GetAwaiter().GetResult();
            }
            catch (NodeConfigException e)
            {
                Console.Error.WriteLine($"actorvisor node: {e.Message}");
                return ExitCodes.Usage;
            }
            catch (State.NodeStateException e)
            {
                // Never an empty registry in place of VMs it cannot read: the node does not start (and systemd does
                // not restart it: the file will not mend itself).
                Console.Error.WriteLine($"actorvisor node: {e.Message}");
                return ExitCodes.StateDamaged;
            }
        });
        return command;
    }

    private static Option Flag(string name, string description, bool many = false) => many
        ? new Option<string[]>(name) { Description = description, AllowMultipleArgumentsPerToken = false }
        : new Option<string?>(name) { Description = description };
}
