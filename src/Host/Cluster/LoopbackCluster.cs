using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Actorvisor.Host.Api.Client;
using Actorvisor.Host.Api.V1;

namespace Actorvisor.Host.Cluster;

/// <summary>
/// What every cluster of <see cref="NodeProcess"/>es on 127.0.0.1 needs (the api benchmark, scenario cluster nodes):
/// free ports for the nodes, and the wait until the cluster's directory reports each node as an Up hypervisor.
/// </summary>
internal static class LoopbackCluster
{
    /// <summary><paramref name="count"/> distinct TCP ports on 127.0.0.1 that were free a moment ago.</summary>
    public static int[] FreePorts(int count)
    {
        var listeners = Enumerable.Range(0, count).Select(_ => new TcpListener(IPAddress.Loopback, 0)).ToList();
        listeners.ForEach(l => l.Start());
        var ports = listeners.Select(l => ((IPEndPoint)l.LocalEndpoint).Port).ToArray();
        listeners.ForEach(l => l.Stop());
        return ports;
    }

    /// <summary>
    /// Waits until every one of <paramref name="nodes"/> has logged that it is Up, then until the directory reports
    /// <paramref name="expected"/> Up hypervisors (it learns of each a moment after the node is Up), asking for the
    /// cluster status with <paramref name="requestTimeout"/> per request; throws naming what it last saw after
    /// <paramref name="timeout"/>.
    /// </summary>
    public static async Task WaitForHypervisorsAsync(ApiClient client, IReadOnlyCollection<NodeProcess> nodes, int expected,
        TimeSpan timeout, TimeSpan requestTimeout, CancellationToken cancellationToken = default)
    {
        await Task.WhenAll(nodes.Select(n => n.WaitForLineAsync($"Node {n.Name} is Up in cluster", timeout))).WaitAsync(cancellationToken).ConfigureAwait(false);
        var clock = Stopwatch.StartNew();
        string seen = "no answer";
        while (clock.Elapsed < timeout)
        {
            try
            {
                if (await client.RequestAsync(new ClusterStatusRequest(), requestTimeout, cancellationToken).ConfigureAwait(false) is ClusterStatusReply s)
                {
                    if (s.Nodes.Count(n => n.Status == "Up" && n.Accelerator is not null) == expected) return;
                    seen = string.Join(", ", s.Nodes.Select(n => $"{n.Name} {n.Status}"));
                }
            }
            catch (ApiUnavailableException e)
            {
                seen = e.Message;
            }
            await Task.Delay(200, cancellationToken).ConfigureAwait(false);
        }
        throw new InvalidOperationException($"the cluster did not report {expected} hypervisors within {timeout.TotalSeconds:0} s (last seen: {seen})");
    }
}
