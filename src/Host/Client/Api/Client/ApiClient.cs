using System.Net;
using System.Net.Sockets;
using Actorvisor.Host.Api.V1;
using Akka.Actor;
using Akka.Cluster.Tools.PublishSubscribe;
using Akka.Configuration;
using Actorvisor.Host.Cluster;

namespace Actorvisor.Host.Api.Client;

/// <summary>
/// A client of the API from outside the cluster: a small remote-only actor system that speaks the
/// ClusterClient protocol to the receptionists of the given nodes (<see cref="ApiConnection"/>). Requests go to
/// <see cref="ApiPaths.Gateway"/> on the node the client is connected to; if that node is lost, requests still
/// open there are answered (sent again elsewhere, or a typed error) instead of waiting out their timeout.
/// Streams arrive at actors of this client (<see cref="Subscribe"/>).
/// </summary>
public sealed class ApiClient : IAsyncDisposable
{
    private readonly IActorRef _connection;
    private readonly ApiClientOptions _options;

    private ApiClient(ActorSystem system, IActorRef connection, ApiClientOptions options)
    {
        System = system;
        _connection = connection;
        _options = options;
    }

    /// <summary>The client's actor system.</summary>
    public ActorSystem System { get; }

    /// <summary>The receptionist paths the client started from.</summary>
    public IReadOnlyList<string> ContactPaths => _options.Contacts.Select(c => ReceptionistPath(_options.ClusterName, c, _options.Tls is not null)).ToList();

    /// <summary>Starts the client; it connects on the first request.</summary>
    /// <param name="options">The cluster, its contact nodes, the token, the timeout and TLS.</param>
    public static ApiClient Connect(ApiClientOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.Contacts.Count == 0) throw new ArgumentException("at least one contact node is needed", nameof(options));
        var bind = LocalAddressFacing(options.Contacts[0]);
        var hocon = ConfigurationFactory.ParseString(ApiSerialization.Hocon + $$"""

            akka {
              # A CLI prints its own errors; Akka's (e.g. a node disconnecting) would only garble its output.
              loglevel = OFF
              stdout-loglevel = OFF
              log-dead-letters = off
              log-dead-letters-during-shutdown = off
              actor.provider = remote
              remote.dot-netty.tcp { hostname = "{{bind}}", port = 0 }
              remote.log-remote-lifecycle-events = off
              # Death watch of the receptionist: how long a node may be silent before the client gives up on it
              # (a killed node is dropped sooner, when its connection closes).
              remote.watch-failure-detector {
                heartbeat-interval = 1s
                acceptable-heartbeat-pause = 8s
              }
              coordinated-shutdown.run-by-clr-shutdown-hook = off
            }
            """);
        // With TLS the client presents its own certificate and checks the nodes' against the cluster CA.
        var system = options.Tls is { } tls
            ? ActorSystem.Create("actorvisor-client", BootstrapSetup.Create()
                .WithConfig(ConfigurationFactory.ParseString(ClusterTls.Hocon).WithFallback(hocon))
                .And(ClusterTls.Setup(tls.CertificatePath, tls.Password, tls.CaCertificatePath)))
            : ActorSystem.Create("actorvisor-client", hocon);
        // Each request travels in a pub-sub Send, as ClusterClient sends it: without this binding the envelope
        // (and the API message inside it) would fall back to the reflection-based JSON serializer.
        system.Settings.InjectTopLevelFallback(DistributedPubSub.DefaultConfig());
        var contacts = options.Contacts.Select(c => ActorPath.Parse(ReceptionistPath(options.ClusterName, c, options.Tls is not null))).ToList();
        var connection = system.ActorOf(ApiConnection.Props(contacts, options.Token), "api-connection");
        return new ApiClient(system, connection, options);
    }

    /// <summary>The receptionist of node <paramref name="hostPort"/> in cluster <paramref name="cluster"/>.</summary>
    /// <param name="cluster">The cluster's name.</param>
    /// <param name="hostPort">The node's host:port.</param>
    /// <param name="tls">True when the cluster runs TLS (akka.ssl.tcp).</param>
    public static string ReceptionistPath(string cluster, string hostPort, bool tls = false) =>
        $"{(tls ? "akka.ssl.tcp" : "akka.tcp")}://{cluster}@{hostPort}/system/receptionist";

    /// <summary>Sends <paramref name="request"/> (with the token) and returns the reply: a success record or <see cref="ApiErrorReply"/>.</summary>
    /// <param name="request">The request.</param>
    /// <param name="cancellationToken">Stops waiting for the reply.</param>
    /// <exception cref="ApiUnavailableException">no answer within the timeout.</exception>
    public Task<IApiReply> RequestAsync(ApiRequest request, CancellationToken cancellationToken = default) =>
        RequestAsync(request, _options.Timeout, cancellationToken);

    /// <summary>
    /// Sends <paramref name="request"/> and waits up to <paramref name="timeout"/> for the reply. A request can go
    /// unanswered while the directory singleton moves to another node (a second or so after the move); a caller
    /// that needs an answer then asks again. If the node the client is connected to is lost first, the request
    /// is answered at once (see <see cref="ApiConnection"/>).
    /// </summary>
    /// <param name="request">The request.</param>
    /// <param name="timeout">How long to wait for the reply (the request's deadline).</param>
    /// <param name="cancellationToken">Stops waiting for the reply.</param>
    /// <exception cref="ApiUnavailableException">no answer within the timeout.</exception>
    public async Task<IApiReply> RequestAsync(ApiRequest request, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        // The request carries the caller's deadline, so that the cluster answers (with a typed error) before it passes.
        var withToken = RequestDeadline.With(request.Token is null ? request with { Token = _options.Token } : request, timeout);
        try
        {
            return await _connection.Ask<IApiReply>(new ApiConnection.Request(withToken, timeout), timeout, cancellationToken)
                .ConfigureAwait(false);
        }
        catch (AskTimeoutException)
        {
            throw new ApiUnavailableException(
                $"no answer from cluster '{_options.ClusterName}' at {string.Join(", ", _options.Contacts)} within {timeout.TotalSeconds:0.#} s " +
                "(is `actorvisor node` running there, and are --node and --cluster right?)");
        }
    }

    /// <summary>An actor of this client that receives stream messages and hands them to <paramref name="onMessage"/>, in order.</summary>
    /// <param name="onMessage">Called for each stream message, one at a time, on the actor's thread.</param>
    public IActorRef Subscribe(Action<IApiMessage> onMessage) => System.ActorOf(StreamReceiver.Props(onMessage));

    /// <inheritdoc />
    public async ValueTask DisposeAsync() => await System.Terminate().WaitAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(false);

    // Bind where the cluster can reach us back: the local address of the route towards the first contact.
    private static string LocalAddressFacing(string hostPort)
    {
        var host = hostPort[..Math.Max(0, hostPort.LastIndexOf(':'))].Trim('[', ']');
        try
        {
            var target = IPAddress.TryParse(host, out var ip) ? ip : Dns.GetHostAddresses(host).First(a => a.AddressFamily == AddressFamily.InterNetwork);
            if (IPAddress.IsLoopback(target)) return "127.0.0.1";
            using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
            probe.Connect(target, 9);
            return ((IPEndPoint)probe.LocalEndPoint!).Address.ToString();
        }
        catch (Exception e) when (e is SocketException or InvalidOperationException or ArgumentException)
        {
            return "127.0.0.1";
        }
    }
}
