using Actorvisor.Hardware.Accel;

namespace Actorvisor.Host.Node;

/// <summary>
/// Everything `actorvisor node` is configured with, after defaults, the JSON file, environment variables and
/// flags (in that order of precedence, last wins). See deploy/README.md for the file format.
/// </summary>
public sealed record NodeSettings
{
    /// <summary>The cluster (actor system) name; every node and client of one cluster uses the same.</summary>
    public string ClusterName { get; init; } = "actorvisor";

    /// <summary>Seed node addresses (akka.tcp://cluster@host:port, akka.ssl.tcp with TLS); empty means this node forms a cluster of its own.</summary>
    public IReadOnlyList<string> SeedNodes => SeedHostPorts.Select(s => $"{Protocol}://{ClusterName}@{s}").ToList();

    /// <summary>How long the cluster must be stable before the split-brain resolver downs unreachable nodes.</summary>
    public TimeSpan StableAfter { get; init; } = TimeSpan.FromSeconds(20);

    /// <summary>How long a node may miss heartbeats before it is marked unreachable.</summary>
    public TimeSpan HeartbeatPause { get; init; } = TimeSpan.FromSeconds(3);

    /// <summary>The node's name in the cluster (unique).</summary>
    public required string NodeName { get; init; }

    /// <summary>The interface remoting binds to.</summary>
    public string Host { get; init; } = "127.0.0.1";

    /// <summary>The host name other nodes reach this one by (default: <see cref="Host"/>).</summary>
    public string? PublicHost { get; init; }

    /// <summary>The remoting port.</summary>
    public int Port { get; init; } = 4053;

    /// <summary>The node's data directory (lock file, image directory).</summary>
    public required string DataDir { get; init; }

    /// <summary>Directories image files may be loaded from (default: DataDir/images).</summary>
    public required IReadOnlyList<string> ImageDirectories { get; init; }

    /// <summary>Directories snapshots are written to (the first) and restored from (default: DataDir/snapshots).</summary>
    public IReadOnlyList<string> SnapshotDirectories { get; init; } = [];

    /// <summary>Which accelerator runs the VMs.</summary>
    public AcceleratorPreference Accelerator { get; init; } = AcceleratorPreference.Auto;

    /// <summary>vCPUs the node may hand out.</summary>
    public required int Vcpus { get; init; }

    /// <summary>Guest RAM the node may hand out.</summary>
    public required ulong MemoryBytes { get; init; }

    /// <summary>The shared API token (null: none required).</summary>
    public string? ApiToken { get; init; }

    /// <summary>TLS for the remote transport (null: plain TCP).</summary>
    public TlsSettings? Tls { get; init; }

    /// <summary>Where the HTTP endpoint (web view, /api/v1, /metrics, /healthz, /readyz) listens; null (the default): no endpoint.</summary>
    public System.Net.IPEndPoint? HttpEndpoint { get; init; }

    /// <summary>Console log format: simple (one line per event) or json (one JSON object per line, node and VM as fields).</summary>
    public string LogFormat { get; init; } = "simple";

    /// <summary>Minimum log level: Debug, Information, Warning or Error.</summary>
    public string LogLevel { get; init; } = "Information";

    /// <summary>The remoting protocol: akka.ssl.tcp with TLS, else akka.tcp.</summary>
    public string Protocol => Tls is null ? "akka.tcp" : "akka.ssl.tcp";

    /// <summary>The address other nodes see.</summary>
    public string Address => $"{Protocol}://{ClusterName}@{PublicHost ?? Host}:{Port}";

    /// <summary>Seed node addresses, host:port each.</summary>
    public IReadOnlyList<string> SeedHostPorts { get; init; } = [];

    /// <summary>A summary for messages and logs: the API token and the TLS password are never part of it.</summary>
    public override string ToString() =>
        $"NodeSettings {{ node {NodeName} at {Address}, seeds [{string.Join(", ", SeedNodes)}], {Vcpus} vCPUs, {MemoryBytes >> 20} MiB, " +
        $"accelerator {Accelerator}, data {DataDir}, images [{string.Join(", ", ImageDirectories)}], snapshots [{string.Join(", ", SnapshotDirectories)}], API token {(ApiToken is null ? "off" : "on")}, " +
        $"TLS {Tls?.ToString() ?? "off"}, log level {LogLevel} }}";
}
