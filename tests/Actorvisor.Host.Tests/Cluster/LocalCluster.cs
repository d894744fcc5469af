using Actorvisor.Host.Api.Client;
using Actorvisor.Host.Api.V1;
using Actorvisor.Host.Cluster;

namespace Actorvisor.Host.Tests.Cluster;

/// <summary>
/// Three (or <see cref="NodeCount"/>) `actorvisor node` processes on 127.0.0.1 (free ports, their own data directories), n1 and n2 as seeds,
/// a short split-brain-resolver window, and an API client connected through n1. Started once per test class.
/// </summary>
public class LocalCluster : IAsyncLifetime
{
    /// <summary>Time allowed for the cluster to form (slow CI machines).</summary>
    public static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(90);

    /// <summary>Time allowed for this cluster's nodes to start and join (more nodes start more runtimes on the same cores).</summary>
    public virtual TimeSpan FormTimeout => StartTimeout;

    /// <summary>Every node's capacity.</summary>
    public const string NodeMemory = "256M";

    private readonly List<ActorvisorProcess> _nodes = new();

    /// <summary>How many nodes (n1 and n2 are the seeds).</summary>
    public virtual int NodeCount => 3;

    /// <summary>The node processes, n1..nN.</summary>
    public IReadOnlyList<ActorvisorProcess> Nodes => _nodes;

    /// <summary>Their remoting ports.</summary>
    public int[] Ports => _ports ??= LoopbackCluster.FreePorts(NodeCount);

    private int[]? _ports;

    /// <summary>Where their data directories are.</summary>
    public string Root { get; } = Directory.CreateTempSubdirectory("actorvisor-cluster-").FullName;

    /// <summary>A ClusterClient-based API client connected through n1 (and n2 as a second contact).</summary>
    public ApiClient Client { get; private set; } = null!;

    /// <summary>Split-brain resolver stable-after: tolerant, so a busy CI machine does not down a slow node.</summary>
    public virtual string StableAfter => "5s";

    /// <summary>Failure detector heartbeat pause (same reason).</summary>
    public virtual string HeartbeatPause => "5s";

    /// <summary>The nodes (0-based) the test's API client starts from.</summary>
    public virtual int[] ClientContacts => [0, 1];

    /// <summary>The API token the nodes require (null: none).</summary>
    public virtual string? Token => null;

    /// <summary>The TLS material of the nodes and the test's client (null: plain TCP).</summary>
    public virtual ClusterTlsFiles? Tls => null;

    /// <summary>"127.0.0.1:PORT" of node <paramref name="index"/> (0-based).</summary>
    public string Contact(int index) => $"127.0.0.1:{Ports[index]}";

    /// <summary>The arguments of node <paramref name="index"/>.</summary>
    protected virtual IEnumerable<string> NodeArgs(int index)
    {
        var args = new List<string>
        {
            "node", "--stop-on-stdin-eof", "--name", $"n{index + 1}", "--port", Ports[index].ToString(), "--seed", Contact(0), "--seed", Contact(1),
            "--data-dir", Path.Combine(Root, $"n{index + 1}"), "--vcpus", "8", "--memory", NodeMemory,
            "--stable-after", StableAfter, "--heartbeat-pause", HeartbeatPause,
        };
        if (Tls is { } tls)
            args.AddRange(["--tls-certificate", tls.NodeCertificates[index], "--tls-password-file", tls.PasswordFile, "--tls-ca", tls.CaPath]);
        if (Token is not null)
        {
            var file = Path.Combine(Root, "token");
            PrivateFile.WriteAllText(file, Token);
            args.AddRange(["--api-token-file", file]);
        }
        return args;
    }

    /// <inheritdoc />
    public virtual async Task InitializeAsync()
    {
        for (int i = 0; i < NodeCount; i++) _nodes.Add(ActorvisorProcess.Start($"n{i + 1}", NodeArgs(i)));
        await Task.WhenAll(_nodes.Select((n, i) => n.WaitForLineAsync($"Node n{i + 1} is Up in cluster", FormTimeout)));
        Client = ApiClient.Connect(new ApiClientOptions("actorvisor", ClientContacts.Select(Contact).ToList(), Token, TimeSpan.FromSeconds(30),
            Tls is { } tls ? new ClientTls(tls.ClientCertificate, tls.Password, tls.CaPath) : null));
        // Ready when the directory sees every node Up, reachable and announced (placement can use them all).
        await Eventually.HoldsAsync(async () =>
        {
            var reply = await Client.RequestAsync(new ClusterStatusRequest());
            if (reply is not ClusterStatusReply status) return reply.ToString();
            var ready = status.Nodes.Count(n => n.Status == "Up" && n.Accelerator is not null);
            return ready == NodeCount ? null : $"{ready} of {NodeCount} hypervisors ready: {string.Join(", ", status.Nodes.Select(n => $"{n.Name} {n.Status}"))}";
        }, FormTimeout);
    }

    /// <inheritdoc />
    public virtual async Task DisposeAsync()
    {
        if (Client is not null) await Client.DisposeAsync();
        // One after the other: nodes leaving at the same instant make the exiting phase wait for its timeout.
        for (int i = _nodes.Count - 1; i >= 0; i--) await _nodes[i].DisposeAsync();
        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    /// <summary>
    /// kill -9 of node <paramref name="index"/> (0-based), then the same node started again with the same arguments and
    /// data directory; returns the new process once it has started (not yet Up: its log says when).
    /// </summary>
    public async Task<ActorvisorProcess> KillAndRestartAsync(int index)
    {
        var old = _nodes[index];
        old.KillHard();
        await old.WaitForExitAsync(StartTimeout);
        await old.DisposeAsync();
        var restarted = ActorvisorProcess.Start($"n{index + 1}", NodeArgs(index));
        _nodes[index] = restarted;
        return restarted;
    }

    /// <summary>
    /// SIGTERM to node <paramref name="index"/> (0-based; a graceful stop), then, once it has exited (its exit code is
    /// returned too), the same node started again with the same arguments and data directory. <paramref name="whileStopped"/>
    /// runs between the two, when nothing of the node runs.
    /// </summary>
    public async Task<(ActorvisorProcess Restarted, int ExitCode, string Output)> TerminateAndRestartAsync(int index, Action? whileStopped = null)
    {
        var old = _nodes[index];
        old.Terminate();
        int exit = await old.WaitForExitAsync(StartTimeout);
        var output = old.Output;
        await old.DisposeAsync();
        whileStopped?.Invoke();
        var restarted = ActorvisorProcess.Start($"n{index + 1}", NodeArgs(index));
        _nodes[index] = restarted;
        return (restarted, exit, output);
    }

    /// <summary>CLI arguments that reach this cluster through node <paramref name="index"/>.</summary>
    public string[] Cli(int index, params string[] args) =>
    [
        .. args, "--node", Contact(index),
        .. Token is null ? Array.Empty<string>() : ["--token", Token],
        .. Tls is not { } tls ? Array.Empty<string>() : ["--tls-certificate", tls.ClientCertificate, "--tls-password-file", tls.PasswordFile, "--tls-ca", tls.CaPath],
    ];

}
