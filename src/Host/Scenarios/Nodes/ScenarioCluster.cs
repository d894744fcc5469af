using System.Globalization;
using Actorvisor.Host.Api.Client;
using Actorvisor.Host.Api.V1;
using Actorvisor.Host.Cluster;
using Actorvisor.Host.Scenarios.Language;

namespace Actorvisor.Host.Scenarios.Nodes;

/// <summary>
/// The cluster nodes of one scenario: one `actorvisor node` process per declared node on 127.0.0.1 (free ports, data
/// directories under a temporary folder, the first two nodes as seeds, a short failure window so that a killed node's
/// VMs are Lost within seconds) and an API client connected through every node. Disposing it stops every process
/// that is still running (SIGTERM, one after the other) and deletes the folder.
/// </summary>
internal sealed class ScenarioCluster : IAsyncDisposable
{
    /// <summary>How long the nodes may take to form the cluster (a busy CI machine starts processes slowly).</summary>
    public static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(90);

    /// <summary>The limit of one try of a repeatable API request; such requests are asked again (see <see cref="RequestAsync"/>).</summary>
    public static readonly TimeSpan RequestTimeout = TimeSpan.FromSeconds(5);

    /// <summary>
    /// The limit of a request that changes something (create, start, destroy...): sent once, since asking again after a
    /// timeout could apply it twice; the step's own timeout (the cancellation) usually ends the wait first.
    /// </summary>
    public static readonly TimeSpan ChangeTimeout = TimeSpan.FromSeconds(300);

    private readonly List<NodeProcess> _processes = [];
    private readonly Dictionary<string, NodeProcess> _byName = new(StringComparer.Ordinal);

    private ScenarioCluster(string root, ApiClient? client)
    {
        Root = root;
        Client = client!;
    }

    /// <summary>The temporary folder holding the nodes' data directories.</summary>
    public string Root { get; }

    /// <summary>The API client.</summary>
    public ApiClient Client { get; private set; }

    /// <summary>Starts <paramref name="nodes"/> and waits until the cluster's directory reports each as an Up hypervisor.</summary>
    public static async Task<ScenarioCluster> StartAsync(IReadOnlyList<NodeDeclaration> nodes, string accelerator, CancellationToken cancellationToken)
    {
        var root = Directory.CreateTempSubdirectory("actorvisor-scenario-cluster-").FullName;
        var cluster = new ScenarioCluster(root, null);
        try
        {
            var ports = LoopbackCluster.FreePorts(nodes.Count);
            string Contact(int i) => $"127.0.0.1:{ports[i]}";
            for (int i = 0; i < nodes.Count; i++)
            {
                var node = nodes[i];
                var args = new List<string>
                {
                    "--name", node.Name, "--port", ports[i].ToString(CultureInfo.InvariantCulture), "--host", "127.0.0.1",
                    "--data-dir", Path.Combine(root, node.Name), "--accelerator", accelerator,
                    "--vcpus", (node.Vcpus ?? 8).ToString(CultureInfo.InvariantCulture),
                    "--memory", ((node.MemoryBytes ?? NodeDeclaration.DefaultMemoryBytes) >> 20).ToString(CultureInfo.InvariantCulture) + "M",
                    "--stable-after", "3s", "--heartbeat-pause", "4s",
                };
                foreach (var seed in Enumerable.Range(0, Math.Min(2, nodes.Count))) args.AddRange(["--seed", Contact(seed)]);
                var process = NodeProcess.Start(node.Name, args);
                cluster._processes.Add(process);
                cluster._byName[node.Name] = process;
            }
            cluster.Client = ApiClient.Connect(new ApiClientOptions("actorvisor", [.. Enumerable.Range(0, nodes.Count).Select(Contact)], null, RequestTimeout));
            await LoopbackCluster.WaitForHypervisorsAsync(cluster.Client, cluster._processes, nodes.Count, StartTimeout, RequestTimeout, cancellationToken).ConfigureAwait(false);
            return cluster;
        }
        catch
        {
            await cluster.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Kills node <paramref name="name"/> with SIGKILL.</summary>
    public void Kill(string name) => _byName[name].Kill();

    /// <summary>
    /// Sends <paramref name="request"/> and returns its reply. A repeatable request (<see cref="RepeatableRequests"/>) is
    /// asked again (each try limited to <see cref="RequestTimeout"/>) while no answer comes: right after a node is lost, a
    /// request can go unanswered while the cluster settles. Any other request is sent once (a create asked again after
    /// a slow first try was refused as a duplicate of itself on a busy machine).
    /// </summary>
    public async Task<IApiReply> RequestAsync(ApiRequest request, CancellationToken cancellationToken)
    {
        if (!RepeatableRequests.IsRepeatable(request))
            return await Client.RequestAsync(request, ChangeTimeout, cancellationToken).ConfigureAwait(false);
        while (true)
        {
            try
            {
                return await Client.RequestAsync(request, RequestTimeout, cancellationToken).ConfigureAwait(false);
            }
            catch (ApiUnavailableException) when (!cancellationToken.IsCancellationRequested)
            {
            }
        }
    }

    /// <summary>Stops the client, then every node still running (one after the other), and deletes the data folder.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Client is not null)
        {
            try
            {
                await Client.DisposeAsync().ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
            }
        }
        // One after the other: nodes leaving at the same instant make the exiting phase wait for its timeout.
        for (int i = _processes.Count - 1; i >= 0; i--) await _processes[i].DisposeAsync().ConfigureAwait(false);
        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
