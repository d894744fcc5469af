using Actorvisor.Actors.Registry;
using Actorvisor.Actors.Vm;
using Akka;
using Akka.Actor;
using Akka.Configuration;

namespace Actorvisor.Actors.Runtime;

/// <summary>
/// A single-node Actorvisor: an ActorSystem with one VmRegistryActor, for the CLI and tests. Creates VMs from
/// specs (the caller picks the accelerator inside the spec's builder), streams their events, and tears
/// every VM down on <see cref="ShutdownAsync"/> — also when the process exits, through CoordinatedShutdown.
/// </summary>
public sealed class ActorvisorRuntime : IAsyncDisposable
{
    /// <summary>The default time a request through the runtime may take.</summary>
    public static readonly TimeSpan DefaultRequestTimeout = TimeSpan.FromSeconds(30);

    // VM teardown runs in the service-stop phase; give it room beyond the phase's 5 s default.
    private const string BaseConfig = """
        akka {
          loglevel = WARNING
          stdout-loglevel = WARNING
          coordinated-shutdown.phases.service-stop.timeout = 60s
        }
        """;

    private readonly List<Task> _sessionEnds = new();

    private ActorvisorRuntime(ActorSystem system, IActorRef node, TimeSpan requestTimeout)
    {
        System = system;
        Node = node;
        RequestTimeout = requestTimeout;
    }

    /// <summary>The actor system.</summary>
    public ActorSystem System { get; }

    /// <summary>The VmRegistryActor.</summary>
    public IActorRef Node { get; }

    /// <summary>How long a request may take.</summary>
    public TimeSpan RequestTimeout { get; }

    /// <summary>Starts an ActorSystem named <paramref name="systemName"/> with a VmRegistryActor of <paramref name="capacity"/>.</summary>
    /// <param name="capacity">What the node may hand out.</param>
    /// <param name="systemName">The ActorSystem's name.</param>
    /// <param name="config">HOCON laid over the defaults (log level, ...).</param>
    /// <param name="requestTimeout">How long a request may take (default 30 s).</param>
    public static ActorvisorRuntime Start(NodeCapacity capacity, string systemName = "actorvisor", string? config = null, TimeSpan? requestTimeout = null)
    {
        ArgumentNullException.ThrowIfNull(capacity);
        var hocon = ConfigurationFactory.ParseString(config ?? "").WithFallback(ConfigurationFactory.ParseString(BaseConfig));
        var system = ActorSystem.Create(systemName, hocon);
        var node = system.ActorOf(VmRegistryActor.Props(capacity), "node");
        var timeout = requestTimeout ?? DefaultRequestTimeout;
        var runtime = new ActorvisorRuntime(system, node, timeout);
        CoordinatedShutdown.Get(system).AddTask(CoordinatedShutdown.PhaseServiceStop, "destroy-vms", async () =>
        {
            await node.Ask<NodeShutDown>(ShutdownNode.Instance, TimeSpan.FromSeconds(50)).ConfigureAwait(false);
            // Every VM has ended; let the sessions' subscribers take the last events before actors stop.
            Task[] ends;
            lock (runtime._sessionEnds) ends = [.. runtime._sessionEnds];
            await Task.WhenAll(ends).WaitAsync(TimeSpan.FromSeconds(5)).ContinueWith(_ => { }, TaskScheduler.Default).ConfigureAwait(false);
            return Done.Instance;
        });
        return runtime;
    }

    /// <summary>
    /// Creates a VM (state Created) and subscribes <paramref name="onEvent"/> to its events before it can
    /// run, so no console output is missed. Events arrive in order on one actor thread.
    /// </summary>
    /// <exception cref="ActorvisorException">the node refused (duplicate name, capacity, invalid spec, build failure).</exception>
    public async Task<VmSession> CreateVmAsync(VmActorSpec spec, Action<VmEvent>? onEvent = null)
    {
        ArgumentNullException.ThrowIfNull(spec);
        var created = await Node.Ask(new CreateVm(spec), RequestTimeout).ConfigureAwait(false) switch
        {
            VmCreated c => c,
            NodeRequestFailed f => throw new ActorvisorException(f.Error),
            var other => throw new InvalidOperationException($"unexpected reply {other}"),
        };
        var ended = new TaskCompletionSource<VmOutcome>(TaskCreationOptions.RunContinuationsAsynchronously);
        var forwarder = System.ActorOf(VmEventForwarder.Props(onEvent ?? (_ => { }), ended));
        await created.Vm.Ask<VmSubscribed>(new SubscribeVm(forwarder), RequestTimeout).ConfigureAwait(false);
        lock (_sessionEnds)
        {
            _sessionEnds.RemoveAll(t => t.IsCompleted);
            _sessionEnds.Add(ended.Task);
        }
        return new VmSession(created.Name, created.Vm, Node, ended.Task, RequestTimeout);
    }

    /// <summary>Creates a VM, starts it and returns once it has ended (or <paramref name="timeout"/> passed and it was stopped).</summary>
    public async Task<VmOutcome> RunVmAsync(VmActorSpec spec, Action<VmEvent>? onEvent, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        var session = await CreateVmAsync(spec, onEvent).ConfigureAwait(false);
        await session.StartAsync().ConfigureAwait(false);
        return await session.WaitAsync(timeout, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The node's VMs.</summary>
    public async Task<IReadOnlyList<VmSummary>> ListVmsAsync() =>
        (await Node.Ask<VmList>(ListVms.Instance, RequestTimeout).ConfigureAwait(false)).Vms;

    /// <summary>Tears every VM down (in teardown order) and terminates the actor system.</summary>
    public Task ShutdownAsync() => CoordinatedShutdown.Get(System).Run(CoordinatedShutdown.UnknownReason.Instance);

    /// <inheritdoc />
    public async ValueTask DisposeAsync() => await ShutdownAsync().ConfigureAwait(false);
}
