using System.Diagnostics.Metrics;
using Actorvisor.Actors.Registry;
using Actorvisor.Actors.Vm;
using Akka.Actor;
using Akka.Cluster;
using AkkaCluster = Akka.Cluster.Cluster;

namespace Actorvisor.Host.Node;

/// <summary>
/// The node layer's metrics: owns the <c>Actorvisor.Host</c> <see cref="Meter"/> of one node: cluster members by
/// status and this node's VMs by state (both read when a listener collects, from the live cluster state and the
/// counts the node's VM registry keeps in <see cref="VmStates"/>), its vCPU and memory capacity, total and free (from the
/// registry's usage in the same place), and the API request latency histogram the gateway
/// records into.
/// </summary>
public sealed class NodeMetrics : IDisposable
{
    /// <summary>The meter's name, for listeners and exporters.</summary>
    public const string Name = "Actorvisor.Host";

    private readonly Meter _meter = new(Name);
    private readonly string _nodeName;
    private volatile ActorSystem? _system;

    /// <summary>The metrics of node <paramref name="nodeName"/>; they read the actor system once <see cref="Attach"/> is called.</summary>
    public NodeMetrics(string nodeName)
    {
        _nodeName = nodeName;
        _meter.CreateObservableGauge("actorvisor.cluster.members", ObserveMembers, "{member}",
            "cluster members by status as this node sees them (unreachable members also count under status unreachable)");
        _meter.CreateObservableGauge("actorvisor.node.vms", ObserveVms, "{vm}",
            "VMs on this node by state, as the node's VM registry counts them");
        _meter.CreateObservableGauge("actorvisor.node.vcpus", () => Capacity(u => u.Capacity.Vcpus, u => u.Capacity.Vcpus - u.UsedVcpus), "{vcpu}",
            "this node's vCPU capacity: kind total, and free (not held by its VMs)");
        _meter.CreateObservableGauge("actorvisor.node.memory", () => Capacity(u => (long)u.Capacity.MemoryBytes,
            u => (long)(u.Capacity.MemoryBytes - Math.Min(u.Capacity.MemoryBytes, u.UsedMemoryBytes))), "By",
            "this node's guest memory capacity: kind total, and free (not held by its VMs)");
        // Buckets from half a millisecond to 30 s: the exporter's default boundaries (0, 5, 10, ... 10000) are for
        // milliseconds and would put every request of a healthy node, in seconds, into the first bucket.
        ApiRequestDuration = _meter.CreateHistogram("actorvisor.api.request.duration", "s",
            "API requests answered by this node's gateway, by request kind and outcome (ok or the error code)", tags: null,
            new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30] });
    }

    /// <summary>How many of this node's VMs are in each state; the node's VM registry keeps it.</summary>
    public VmStateCounts VmStates { get; } = new();

    /// <summary>API request latency in seconds, tagged <c>kind</c> and <c>outcome</c>.</summary>
    public Histogram<double> ApiRequestDuration { get; }

    /// <summary>Starts reading <paramref name="system"/>'s cluster state.</summary>
    public void Attach(ActorSystem system) => _system = system;

    /// <inheritdoc />
    public void Dispose() => _meter.Dispose();

    private IEnumerable<Measurement<int>> ObserveMembers()
    {
        var system = _system;
        if (system is null || system.WhenTerminated.IsCompleted) return [];
        var state = AkkaCluster.Get(system).State;
        var counts = Enum.GetValues<MemberStatus>().ToDictionary(s => s, _ => 0);
        foreach (var m in state.Members) counts[m.Status]++;
        var list = counts.Select(c => new Measurement<int>(c.Value, new KeyValuePair<string, object?>("status", c.Key.ToString().ToLowerInvariant()))).ToList();
        list.Add(new(state.Unreachable.Count, new KeyValuePair<string, object?>("status", "unreachable")));
        return list;
    }

    private IEnumerable<Measurement<long>> Capacity(Func<NodeUsage, long> total, Func<NodeUsage, long> free) =>
        VmStates.Usage is not { } usage ? [] :
        [
            new(total(usage), new KeyValuePair<string, object?>("kind", "total")),
            new(Math.Max(0, free(usage)), new KeyValuePair<string, object?>("kind", "free")),
        ];

    private IEnumerable<Measurement<int>> ObserveVms() =>
        Enum.GetValues<VmState>()
            .Select(s => new Measurement<int>(VmStates.Count(s), new KeyValuePair<string, object?>("state", VmStatuses.Of(s).ToString().ToLowerInvariant())))
            .ToList();
}
