using Actorvisor.Hardware.Accel;
using Actorvisor.Hardware.Cgroups;
using Actorvisor.Hardware.Snapshots;
using Actorvisor.Host.Api;
using Actorvisor.Host.Api.V1;
using Actorvisor.Host.Cluster;
using Actorvisor.Host.Node.State;
using Actorvisor.Host.Web;
using Akka.Actor;
using Akka.Cluster.Hosting;
using Akka.Cluster.Tools.Client;
using Akka.Hosting;
using Akka.Remote.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Hosting.Systemd;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Console;
using AkkaCluster = Akka.Cluster.Cluster;

namespace Actorvisor.Host.Node;

/// <summary>
/// Runs `actorvisor node`, i.e. one <em>node</em>: one daemon, one member of the Akka cluster (role hypervisor).
/// A generic host (systemd notify when run as a service) with the node's hypervisor agent (its VMs and their
/// registry), its API gateway registered with the ClusterClientReceptionist, and the VM directory singleton
/// (hosted by one node of the cluster at a time). SIGTERM makes the host stop, which runs CoordinatedShutdown: every VM is torn
/// down (service-stop), then the node leaves the cluster. Its desired state (<see cref="NodeStateStore"/>, in the data
/// directory) is opened and read before anything else starts: a damaged database stops the node here, naming the file.
/// </summary>
public static class NodeHost
{
    /// <summary>Runs the node until it is stopped; returns the process exit code.</summary>
    public static async Task<int> RunAsync(NodeSettings settings, CancellationToken cancellationToken = default)
    {
        // Refuse to start, naming what is missing and how to grant it, before anything is opened or bound.
        var checks = HostRequirements.Check(settings);
        if (checks.FirstOrDefault(c => c.Fatal) is { } fatal) throw new NodeConfigException("host", fatal.ToString());
        using var dataLock = LockDataDir(settings.DataDir);
        using var state = NodeStateStore.Open(NodeStateStore.PathIn(settings.DataDir));
        var stored = state.Load();
        IAccelerator accelerator;
        string? kvmNote;
        try
        {
            accelerator = AcceleratorSelector.Open(settings.Accelerator, out kvmNote);
        }
        catch (Exception e) when (e is NotSupportedException or DllNotFoundException or InvalidOperationException or EntryPointNotFoundException)
        {
            throw new NodeConfigException("Node:Accelerator", e.Message);
        }
        using (accelerator)
        {
            using var host = Build(settings, accelerator, state, stored);
            var log = host.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Actorvisor.Node");
            foreach (var check in checks.Where(c => !c.Ok)) log.LogWarning("Host check {Check}", check.ToString());
            if (kvmNote is not null) log.LogWarning("KVM not used: {Reason}", kvmNote);
            log.LogInformation("Node {Name} starting: {Address}, {Accelerator}, {Vcpus} vCPUs, {Memory} MiB, data {DataDir}, seeds [{Seeds}]",
                settings.NodeName, settings.Address, accelerator.Description, settings.Vcpus, settings.MemoryBytes >> 20, settings.DataDir, string.Join(", ", settings.SeedNodes));
            log.LogInformation("Desired state {Path} (schema {Version}): {Count} VM(s) to recreate", state.Path, NodeStateStore.SchemaVersion, stored.Count);
            try
            {
                await host.StartAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (Innermost(e) is System.Net.Sockets.SocketException { SocketErrorCode: System.Net.Sockets.SocketError.AddressAlreadyInUse })
            {
                throw new NodeConfigException("Node:Port", $"{settings.Host}:{settings.Port} is already in use");
            }
            var system = host.Services.GetRequiredService<ActorSystem>();
            // The token (e.g. --stop-on-stdin-eof) stops the host just as SIGTERM does.
            await host.WaitForShutdownAsync(cancellationToken).ConfigureAwait(false);
            // Stopped by a signal (the host ran CoordinatedShutdown) is a clean exit; anything else (downed by the
            // split-brain resolver, a failed join, a refused TLS handshake) is a failure, so systemd restarts it.
            var reason = CoordinatedShutdown.Get(system).ShutdownReason;
            if (reason is not null and not CoordinatedShutdown.ClrExitReason && !cancellationToken.IsCancellationRequested)
            {
                log.LogError("Node {Name} stopped on its own ({Reason}); exiting with 1", settings.NodeName, reason.GetType().Name);
                return 1;
            }
            log.LogInformation("Node {Name} stopped", settings.NodeName);
            return 0;
        }
    }

    /// <summary>
    /// Builds the host for <paramref name="settings"/>, running VMs on <paramref name="accelerator"/>, keeping its desired
    /// state in <paramref name="state"/> (null: kept nowhere) and recreating the <paramref name="stored"/> VMs read from it.
    /// </summary>
    public static IHost Build(NodeSettings settings, IAccelerator accelerator, NodeStateStore? state = null, IReadOnlyList<StoredVm>? stored = null)
    {
        var builder = new HostApplicationBuilder(new HostApplicationBuilderSettings
        {
            DisableDefaults = true,
            ApplicationName = "actorvisor-node",
            ContentRootPath = settings.DataDir,
        });
        builder.Logging.ClearProviders();
        builder.Logging.SetMinimumLevel(Enum.Parse<LogLevel>(settings.LogLevel));
        if (settings.LogFormat == "json")
        {
            builder.Services.AddSingleton<ConsoleFormatter>(new NodeJsonConsoleFormatter(settings.NodeName));
            builder.Logging.AddConsole(o => o.FormatterName = NodeJsonConsoleFormatter.FormatterName);
        }
        else if (SystemdHelpers.IsSystemdService()) builder.Logging.AddConsole();
        else builder.Logging.AddSimpleConsole(o =>
        {
            o.SingleLine = true;
            o.TimestampFormat = "HH:mm:ss.fff ";
        });
        builder.Services.AddSystemd();
        // The managed saves (HypervisorAgent.ManagedSaveTimeout), the VMs' teardown and leaving the cluster, with room to spare.
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = HypervisorAgent.ManagedSaveTimeout + TimeSpan.FromSeconds(120));
        var readiness = new NodeReadiness();
        var metrics = new NodeMetrics(settings.NodeName);
        builder.Services.AddSingleton(readiness);
        builder.Services.AddSingleton(metrics);
        var apiAccess = new NodeApiAccess();
        // Before the actor system: hosted services stop in reverse order, so /readyz answers while the node leaves.
        if (settings.HttpEndpoint is { } http)
            builder.Services.AddHostedService(s => new NodeHttpEndpoint(http, settings.ApiToken, readiness, apiAccess, settings.NodeName, settings.Tls,
                s.GetRequiredService<ILoggerFactory>()));

        var info = new NodeInfo(settings.NodeName, settings.Address, accelerator.Kind.ToString().ToLowerInvariant(), accelerator.Description,
            settings.Vcpus, settings.MemoryBytes);
        // Where the host has no cgroup v2 cpu controller the "cpu-limits" host check said so once; VMs then run unlimited.
        var images = new VmImageResolver(settings.ImageDirectories, settings.NodeName, CpuLimitCgroups.TryOpen(out _), Path.Combine(settings.DataDir, "run", "vsock"));
        var snapshots = new VmSnapshotDirectories(settings.SnapshotDirectories, settings.NodeName);
        builder.Services.AddAkka(settings.ClusterName, (akka, services) =>
        {
            akka.AddHocon(NodeHocon.Build(settings), HoconAddMode.Prepend)
                .ConfigureLoggers(l =>
                {
                    l.LogLevel = Akka.Event.LogLevel.InfoLevel;
                    l.ClearLoggers();
                    l.AddLoggerFactory();
                })
                .WithRemoting(NodeTransport.Options(settings))
                .WithClustering(new ClusterOptions
                {
                    Roles = [NodeRoles.Hypervisor],
                    SeedNodes = settings.SeedNodes.Count > 0 ? settings.SeedNodes.ToArray() : [settings.Address],
                })
                .WithClusterClientReceptionist("receptionist", NodeRoles.Hypervisor)
                .WithSingleton<VmDirectoryKey>("vm-directory", VmDirectory.Props(HypervisorAgent.Path),
                    new ClusterSingletonOptions { Role = NodeRoles.Hypervisor }, createProxyToo: true)
                .WithActors((system, registry) =>
                {
                    var directory = registry.Get<VmDirectoryKey>();
                    var log = services.GetRequiredService<ILoggerFactory>().CreateLogger("Actorvisor.Node");
                    // Before the agent: it may restore a managed save, and no snapshot of this node is being written yet.
                    LogSweeps(log, snapshots.RemoveAbandonedPartials());
                    var agent = system.ActorOf(HypervisorAgent.Props(info, accelerator, images, directory, metrics.VmStates, state, stored, snapshots,
                        MigrationEndpoint.Of(settings)), HypervisorAgent.Name);
                    var api = system.ActorOf(ApiGateway.Props(directory, agent, HypervisorAgent.Path, settings.NodeName, settings.ApiToken, metrics.ApiRequestDuration), ApiPaths.GatewayName);
                    ClusterClientReceptionist.Get(system).RegisterService(api);
                    apiAccess.Attach(system, api);
                    metrics.Attach(system);
                    readiness.ApiServing(system);
                    CoordinatedShutdown.Get(system).AddTask(CoordinatedShutdown.PhaseServiceStop, "destroy-vms", async () =>
                    {
                        await agent.Ask<Actorvisor.Actors.Registry.NodeShutDown>(ShutdownAgent.Instance, HypervisorAgent.ManagedSaveTimeout + TimeSpan.FromSeconds(55)).ConfigureAwait(false);
                        return Akka.Done.Instance;
                    });
                    AkkaCluster.Get(system).RegisterOnMemberUp(() =>
                        log.LogInformation("Node {Name} is Up in cluster {Cluster} at {Address}", settings.NodeName, settings.ClusterName, settings.Address));
                });
            NodeTransport.AddTls(akka, settings.Tls);
        });
        return builder.Build();
    }

    // What the start found of snapshot writes a crash cut short, in the node's log.
    private static void LogSweeps(ILogger log, IEnumerable<PartialSnapshotSweep> sweeps)
    {
        foreach (var sweep in sweeps)
        {
            foreach (var path in sweep.Removed)
                log.LogWarning("Removed incomplete snapshot {Path}: a snapshot or managed save written under a temporary name and never finished (its writer died)", path);
            foreach (var path in sweep.InUse)
                log.LogInformation("Left partial snapshot {Path}: another process is writing it", path);
            foreach (var failure in sweep.Failed)
                log.LogWarning("Could not remove incomplete snapshot {Failure}", failure);
        }
    }

    private static Exception Innermost(Exception e)
    {
        while (e.InnerException is not null) e = e.InnerException;
        return e is AggregateException { InnerExceptions.Count: > 0 } a ? Innermost(a.InnerExceptions[0]) : e;
    }

    // One node per data directory: a second node on the same directory would share its images and lock.
    private static FileStream LockDataDir(string dataDir)
    {
        var path = Path.Combine(dataDir, "node.lock");
        try
        {
            var stream = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            stream.SetLength(0);
            using var writer = new StreamWriter(stream, leaveOpen: true);
            writer.Write(Environment.ProcessId);
            writer.Flush();
            return stream;
        }
        catch (IOException e)
        {
            throw new NodeConfigException("Node:DataDir", $"{dataDir} is in use by another node ({path} is locked: {e.Message})");
        }
    }
}
