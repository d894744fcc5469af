using System.Net;
using System.Net.Sockets;
using Actorvisor.Actors.Registry;
using Actorvisor.Actors.Vm;
using Actorvisor.Hardware.Accel;
using Actorvisor.Hardware.Migration;
using Akka.Actor;

namespace Actorvisor.Actors.Migration;

/// <summary>
/// The target side of live migrations on one node: for each <see cref="ReceiveMigration"/> it opens a TCP listener,
/// says where, and receives one VM on a thread of its own (<see cref="MigrationTarget"/>: the pages never pass through
/// a mailbox). The header is admitted only if the node's registry has room for the VM (asked before any memory is
/// allocated). Once the source said go, the built machine is handed to the registry as a new VM
/// (<see cref="MachineVm.MigratedSpec"/>) and started; the requester hears <see cref="MigrationArrived"/>.
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
    private readonly Dictionary<string, (IActorRef Requester, MigrationReceived Received, IActorRef? Subscriber)> _arriving = [];
    private readonly Dictionary<string, IActorRef> _created = [];

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
        Receive<ReceiveEnded>(m => m.Requester.Tell(new MigrationReceiveFailed(m.Reason)));
        Receive<VmCreated>(OnCreated);
        Receive<NodeRequestFailed>(m => FailAll($"the node would not take the VM: {m.Error.Message}"));
        Receive<VmTransitioned>(OnStarted);
        Receive<VmSubscribed>(_ => { }); // the subscription made for the requester's subscriber
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
            try
            {
                using var connect = new CancellationTokenSource(ConnectTimeout);
                using var client = listener.AcceptTcpClientAsync(connect.Token).AsTask().GetAwaiter().GetResult();
                client.NoDelay = true;
                using var channel = new MigrationChannel(secure is null ? client.GetStream() : secure(client.GetStream()));
                var received = MigrationTarget.Receive(accelerator, channel, console, header => Admit(registry, header));
                self.Tell(new Received(received, console, requester, request.Name ?? received.Header.VmName, request.Subscriber));
            }
            catch (OperationCanceledException)
            {
                self.Tell(new ReceiveEnded(requester, $"no source connected within {ConnectTimeout.TotalSeconds:0} s"));
            }
            catch (Exception e) when (e is MigrationException or SocketException or IOException or System.Security.Authentication.AuthenticationException)
            {
                self.Tell(new ReceiveEnded(requester, e.Message));
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

    private void OnReceived(Received m)
    {
        _arriving[m.Name] = (m.Requester, m.Migration, m.Subscriber);
        _registry.Tell(new CreateVm(MachineVm.MigratedSpec(m.Name, m.Migration, _accelerator, m.Console)));
    }

    private void OnCreated(VmCreated created)
    {
        if (!_arriving.TryGetValue(created.Name, out var arriving)) return;
        // In the VM's mailbox order: the subscription before the start.
        if (arriving.Subscriber is { } subscriber) created.Vm.Tell(new SubscribeVm(subscriber));
        created.Vm.Tell(StartVm.Instance);
        _created[created.Name] = created.Vm;
    }

    private void OnStarted(VmTransitioned started)
    {
        if (!_arriving.Remove(started.VmName, out var arriving) || !_created.Remove(started.VmName, out var vm)) return;
        arriving.Requester.Tell(new MigrationArrived(started.VmName, vm, arriving.Received.Rounds, arriving.Received.PagesReceived));
    }

    private void Fail(string name, string reason)
    {
        if (!_arriving.Remove(name, out var arriving)) return;
        _created.Remove(name);
        arriving.Requester.Tell(new MigrationReceiveFailed(reason));
    }

    // A refused CreateVm does not name the VM: every VM waiting for the registry failed (its machine was never handed over).
    private void FailAll(string reason)
    {
        foreach (var (name, arriving) in _arriving.Where(a => !_created.ContainsKey(a.Key)).ToList())
        {
            _arriving.Remove(name);
            arriving.Received.Parts.Dispose();
            arriving.Requester.Tell(new MigrationReceiveFailed(reason));
        }
    }

    private sealed record Received(MigrationReceived Migration, MigrationConsole Console, IActorRef Requester, string Name, IActorRef? Subscriber);

    private sealed record ReceiveEnded(IActorRef Requester, string Reason);
}
