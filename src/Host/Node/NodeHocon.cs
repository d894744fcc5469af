using System.Globalization;
using Actorvisor.Host.Api.V1;
using Actorvisor.Host.Cluster;

namespace Actorvisor.Host.Node;

/// <summary>The Akka settings of a node that the hosting builders do not cover: split-brain resolver, failure detector, shutdown timeouts, serializers.</summary>
public static class NodeHocon
{
    /// <summary>The HOCON for <paramref name="settings"/>.</summary>
    public static string Build(NodeSettings settings) => string.Join("\n",
        ApiSerialization.Hocon,
        ClusterSerialization.Hocon,
        State.NodeStateActor.DispatcherHocon,
        $$"""
        akka {
          loglevel = {{AkkaLevel(settings.LogLevel)}}
          actor.serialize-messages = off
          # Clients come and go; their disconnects are not errors of the node.
          remote.log-remote-lifecycle-events = off
          cluster {
            # Keep-majority: on a partition the side with more nodes stays up, the other downs itself.
            downing-provider-class = "Akka.Cluster.SBR.SplitBrainResolverProvider, Akka.Cluster"
            split-brain-resolver {
              active-strategy = keep-majority
              stable-after = {{Ms(settings.StableAfter)}}
            }
            failure-detector.acceptable-heartbeat-pause = {{Ms(settings.HeartbeatPause)}}
            run-coordinated-shutdown-when-down = on
          }
          # The managed saves, then tearing every VM down, run in service-stop, before the node leaves the cluster.
          coordinated-shutdown.phases.service-stop.timeout = {{Ms(HypervisorAgent.ManagedSaveTimeout + TimeSpan.FromSeconds(60))}}
          cluster.client.receptionist.response-tunnel-receive-timeout = 120s
        }
        """);

    private static string Ms(TimeSpan t) => ((long)t.TotalMilliseconds).ToString(CultureInfo.InvariantCulture) + "ms";

    private static string AkkaLevel(string level) => level switch
    {
        "Debug" => "DEBUG",
        "Warning" => "WARNING",
        "Error" => "ERROR",
        _ => "INFO",
    };
}
