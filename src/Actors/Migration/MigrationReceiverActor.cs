using System.Net;
using System.Net.Sockets;
using Actorvisor.Actors.AsyncPf;
using Actorvisor.Actors.Registry;
using Actorvisor.Actors.Vm;
using Actorvisor.Hardware.Accel;
using Actorvisor.Hardware.Lazy;
using Actorvisor.Hardware.Migration;
using Akka.Actor;

namespace Actorvisor.Actors.Migration;

/// <summary>
/// The target side of live migrations on one node: for each <see cref="ReceiveMigration"/> it opens a TCP listener,
/// says where, and receives one VM on a thread of its own (<see cref="MigrationTarget"/>: the pages never pass through
/// a mailbox). The header is admitted only if the node's registry has room for the VM (asked before any memory is
/// allocated). The built machine is created in the registry as a VM (<see cref="MachineVm.MigratedSpec"/>, not started)
/// before the source is told the target is ready, so a registry that refuses it refuses the migration while the source
/// can still resume; a go-ahead that never comes destroys that VM again. Once the source said go, the VM is started and
/// the requester hears <see cref="MigrationArrived"/>. By post-copy the VM's lazy memory faults to its async-PF actors,
/// whose store asks the source; the thread keeps the stream until every page is here (<see cref="MigrationPostCopyEnded"/>),
/// and if the source is gone first the VM is failed with that reason.
/// </summary>
public sealed class MigrationReceiverActor : ReceiveActor
{
    /// <summary>How long a listener waits for the source to connect.</summary>
    public static readonly TimeSpan ConnectTimeout = TimeSpan.FromSeconds(30);

    /// <summary>How long the registry may take to answer or to build and start the VM.</summary>
    public static readonly TimeSpan RegistryTimeout = TimeSpan.FromSeconds(15);

    private readonly IAccelerator _accelerator;
    private readonly IActorRef _registry;
    private readonly IPAddress _listen;
    private readonly Func<Stream, Stream>? _secure;
    private readonly Dictionary<string, (IActorRef Requester, MigrationReceived Received, IActorRef Vm)> _starting = [];

    /// <summary>
    /// Props for a receiver building VMs on <paramref name="accelerator"/> in <paramref name="registry"/>, listening on
    /// <paramref name="listen"/> (default loopback); <paramref name="secure"/>, if given, wraps each accepted stream (TLS)
    /// on the receiving thread before anything is read.
    /// </summary>
    public static Props Props(IAccelerator accelerator, IActorRef registry, IPAddress? listen = null, Func<Stream, Stream>? secure = null) =>
        Akka.Actor.Props.Create(() => new MigrationReceiverActor(accelerator, registry, listen ?? IPAddress.Loopback, secure));

    /// <summary>Use <see cref="Props"/>; public for the actor factory.</summary>
    public MigrationReceiverActor(IAccelerator accelerator, IActorRef registry, IPAddress listen, Func<Stream, Stream>? secure)
    {
        _accelerator = accelerator;
        _registry = registry;
        _listen = listen;
        _secure = secure;
        Receive<ReceiveMigration>(Listen);
        Receive<Received>(OnReceived);
        Receive<ReceiveEnded>(OnReceiveEnded);
        Receive<PostCopyDone>(OnPostCopyDone);
        Receive<VmTransitioned>(OnStarted);
        Receive<VmSubscribed>(_ => { }); // the subscription made for the requester's subscriber
        Receive<VmDestroyed>(_ => { }); // a VM whose go-ahead never came
        Receive<NodeRequestFailed>(_ => { });
        Receive<VmRequestFailed>(m => Fail(m.VmName, $"the migrated VM did not start: {m.Error.Message}"));
    }

    private void Listen(ReceiveMigration request)
    {
        var listener = new TcpListener(_listen, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        var requester = Sender;
        var self = Self;
        var accelerator = _accelerator;
        var registry = _registry;
        var secure = _secure;
        requester.Tell(new MigrationListening(_listen.ToString(), port));
        Task.Factory.StartNew(() =>
        {
            var console = new MigrationConsole();
            AsyncPfRouter? router = null;
            (string Name, IActorRef Vm)? created = null;
            try
            {
                using var connect = new CancellationTokenSource(ConnectTimeout);
                using var client = listener.AcceptTcpClientAsync(connect.Token).AsTask().GetAwaiter().GetResult();
                client.NoDelay = true;
                using var channel = new MigrationChannel(secure is null ? client.GetStream() : secure(client.GetStream()));
                var received = MigrationTarget.Receive(accelerator, channel, console, header => Admit(registry, header),
                    (header, store) => router = new AsyncPfRouter(store, header.VcpuCount, 0),
                    built =>
                    {
                        var name = request.Name ?? built.Header.VmName;
                        var refusal = Create(registry, MachineVm.MigratedSpec(name, built, accelerator, console, router), out var vm);
                        if (refusal is null) created = (name, vm!);
                        else router?.Dispose();
                        return refusal;
                    });
                var (name, vm) = created!.Value;
                self.Tell(new Received(received, requester, name, vm, request.Subscriber));
                // By post-copy the stream is needed until every page is here.
                if (received.PostCopy is { } postCopy)
                {
                    string? failure = null;
                    try
                    {
                        postCopy.Completion.GetAwaiter().GetResult();
                    }
                    catch (MigrationException e)
                    {
                        failure = e.Message;
                    }
                    self.Tell(new PostCopyDone(requester, name, vm, new MigrationPostCopyEnded(name, postCopy.MissingAtStart, postCopy.RemoteFaults,
                        postCopy.PagesReceived, postCopy.StalePages, postCopy.Elapsed, failure)));
                }
            }
            catch (OperationCanceledException)
            {
                self.Tell(new ReceiveEnded(requester, $"no source connected within {ConnectTimeout.TotalSeconds:0} s", created));
            }
            catch (Exception e) when (e is MigrationException or SocketException or IOException or System.Security.Authentication.AuthenticationException)
            {
                self.Tell(new ReceiveEnded(requester, e.Message, created));
            }
            finally
            {
                listener.Stop();
            }
        }, TaskCreationOptions.LongRunning);
    }

    // On the receiving thread: room for the VM's vCPUs and memory on this node, asked before anything is allocated.
    private static string? Admit(IActorRef registry, MigrationHeader header)
    {
        NodeUsage usage;
        try
        {
            usage = registry.Ask<NodeUsage>(GetNodeUsage.Instance, RegistryTimeout).GetAwaiter().GetResult();
        }
        catch (Exception e) when (e is AskTimeoutException or TaskCanceledException)
        {
            return $"the node's registry did not say whether it has room ({e.Message})";
        }
        ulong freeMemory = usage.Capacity.MemoryBytes - Math.Min(usage.UsedMemoryBytes, usage.Capacity.MemoryBytes);
        int freeVcpus = Math.Max(0, usage.Capacity.Vcpus - usage.UsedVcpus);
        if (header.MemoryBytes > freeMemory || header.VcpuCount > freeVcpus)
            return $"the node has room for {freeVcpus} vCPUs and {freeMemory} bytes; VM '{header.VmName}' needs {header.VcpuCount} and {header.MemoryBytes}";
        return null;
    }

    // On the receiving thread, before the source is told the target is ready: the VM exists here (not started) or the
    // migration is refused while the source can still resume.
    private static string? Create(IActorRef registry, VmActorSpec spec, out IActorRef? vm)
    {
        vm = null;
        object reply;
        try
        {
            reply = registry.Ask(new CreateVm(spec), RegistryTimeout).GetAwaiter().GetResult();
        }
        catch (Exception e) when (e is AskTimeoutException or TaskCanceledException)
        {
            return $"the node's registry did not create VM '{spec.Name}' in time ({e.Message})";
        }
        switch (reply)
        {
            case VmCreated c:
                vm = c.Vm;
                return null;
            case NodeRequestFailed f:
                return $"the node would not take VM '{spec.Name}': {f.Error.Message}";
            default:
                return $"the node's registry answered {reply.GetType().Name} to creating VM '{spec.Name}'";
        }
    }

    private void OnReceived(Received m)
    {
        _starting[m.Name] = (m.Requester, m.Migration, m.Vm);
        // In the VM's mailbox order: the subscription before the start.
        if (m.Subscriber is { } subscriber) m.Vm.Tell(new SubscribeVm(subscriber));
        m.Vm.Tell(StartVm.Instance);
    }

    private void OnReceiveEnded(ReceiveEnded m)
    {
        // A VM created for a go-ahead that never came never ran: it goes (its teardown releases the machine).
        if (m.Created is { } created) _registry.Tell(new DestroyVm(created.Name));
        m.Requester.Tell(new MigrationReceiveFailed(m.Reason));
    }

    private void OnPostCopyDone(PostCopyDone m)
    {
        // The source is gone with pages only it held: the VM cannot go on (post-copy's known risk).
        if (m.Ended.Failure is { } failure) m.Vm.Tell(new LazyMemoryFailed(m.Name, failure));
        m.Requester.Tell(m.Ended);
    }

    private void OnStarted(VmTransitioned started)
    {
        if (!_starting.Remove(started.VmName, out var starting)) return;
        starting.Requester.Tell(new MigrationArrived(started.VmName, starting.Vm, starting.Received.Rounds, starting.Received.PagesReceived));
    }

    private void Fail(string name, string reason)
    {
        if (!_starting.Remove(name, out var starting)) return;
        starting.Requester.Tell(new MigrationReceiveFailed(reason));
    }

    private sealed record Received(MigrationReceived Migration, IActorRef Requester, string Name, IActorRef Vm, IActorRef? Subscriber);

    private sealed record ReceiveEnded(IActorRef Requester, string Reason, (string Name, IActorRef Vm)? Created);

    private sealed record PostCopyDone(IActorRef Requester, string Name, IActorRef Vm, MigrationPostCopyEnded Ended);
}
