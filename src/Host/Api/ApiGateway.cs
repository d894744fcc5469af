using System.Security.Cryptography;
using System.Text;
using Actorvisor.Host.Api.V1;
using Akka.Actor;
using Akka.Event;

namespace Actorvisor.Host.Api;

/// <summary>
/// The API actor every node serves at <see cref="ApiPaths.Gateway"/> (and registers with the
/// ClusterClientReceptionist): checks the shared token, validates the request (<see cref="ApiValidator"/>),
/// and passes it on to the VM directory singleton, which answers the original sender (or routes it to the
/// VM's node, which does); what the directory answers itself is answered within <see cref="DirectoryAnswerTimeout"/>,
/// if need be with a typed error. Anything that is not an API v1 request is answered with a typed error.
/// </summary>
public sealed class ApiGateway : ReceiveActor
{
    /// <summary>How long the gateway waits for the directory's own answer (list, status, event subscriptions) before it answers <see cref="ApiErrorCode.NodeUnavailable"/>.</summary>
    public static readonly TimeSpan DirectoryAnswerTimeout = TimeSpan.FromSeconds(10);

    private readonly IActorRef _directory;
    private readonly byte[]? _tokenHash;
    private readonly ILoggingAdapter _log = Context.GetLogger();

    /// <summary>Props for a gateway in front of <paramref name="directory"/>; <paramref name="token"/> null or empty means no token is required.</summary>
    public static Props Props(IActorRef directory, string? token) => Akka.Actor.Props.Create(() => new ApiGateway(directory, token));

    /// <summary>Use <see cref="Props"/>.</summary>
    public ApiGateway(IActorRef directory, string? token)
    {
        _directory = directory;
        _tokenHash = string.IsNullOrEmpty(token) ? null : Hash(token);
        Receive<ApiRequest>(OnRequest);
        ReceiveAny(m =>
        {
            _log.Warning("Refused a {0} from {1}: not an API v1 request", m.GetType().Name, Sender);
            if (!Sender.IsNobody()) Sender.Tell(ApiErrorReply.Invalid("request", $"{m.GetType().Name} is not a request of API version 1"));
        });
    }

    private void OnRequest(ApiRequest request)
    {
        if (_tokenHash is not null && (request.Token is null || !CryptographicOperations.FixedTimeEquals(Hash(request.Token), _tokenHash)))
        {
            _log.Warning("Refused a {0} from {1}: {2} API token", request.GetType().Name, Sender, request.Token is null ? "no" : "a wrong");
            Sender.Tell(new ApiErrorReply(ApiErrorCode.Unauthorized,
                $"token: {(request.Token is null ? "missing" : "wrong")} API token; pass the cluster's token (--token, --token-file or ACTORVISOR_TOKEN)", "token"));
            return;
        }
        if (ApiValidator.Validate(request) is { } error)
        {
            Sender.Tell(error);
            return;
        }
        if (request is ListVmsRequest or ClusterStatusRequest or SubscribeVmEventsRequest or UnsubscribeVmEventsRequest)
        {
            // The directory answers these itself, at once. When it does not, its node is gone and the singleton
            // proxy still sends to it (until the node is downed and the directory has moved): answer with a typed
            // error rather than leave the caller waiting out its own timeout.
            _directory.Ask<IApiReply>(request, DirectoryAnswerTimeout).PipeTo(Sender, failure: _ => new ApiErrorReply(ApiErrorCode.NodeUnavailable,
                $"the VM directory did not answer within {DirectoryAnswerTimeout.TotalSeconds:0} s; it is moving to another node after a node loss, try again in a few seconds"));
            return;
        }
        _directory.Forward(request);
    }

    // Comparing fixed-size digests keeps the comparison's time independent of where the tokens differ.
    private static byte[] Hash(string token) => SHA256.HashData(Encoding.UTF8.GetBytes(token));
}
