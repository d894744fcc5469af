using System.Text.Json;
using Actorvisor.Host.Api;
using Akka.Actor;

namespace Actorvisor.Host.Web;

/// <summary>
/// Owns the HTTP side's link to the node's API: the actor system and its <see cref="ApiGateway"/>, attached once the
/// gateway exists (the HTTP endpoint starts before the actor system, and answers "starting" until then), and the
/// JSON settings of the v1 contracts (<see cref="JsonManifestSerializer.CreateOptions"/>) for replies.
/// </summary>
public sealed class NodeApiAccess
{
    private volatile Attached? _attached;

    /// <summary>Called once the node's gateway <paramref name="gateway"/> runs in <paramref name="system"/>.</summary>
    public void Attach(ActorSystem system, IActorRef gateway)
    {
        var extended = (ExtendedActorSystem)system;
        // The contracts' names and converters; apostrophes and the like written as themselves for people reading the JSON.
        var json = new JsonSerializerOptions(JsonManifestSerializer.CreateOptions(extended)) { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
        _attached = new Attached(extended, gateway, json, HttpRequestBody.Strict(json));
    }

    /// <summary>The gateway and its system, or null while the node starts (or after its actor system stopped).</summary>
    public Attached? Current => _attached is { } a && !a.System.WhenTerminated.IsCompleted ? a : null;

    /// <summary>True once the node's actor system was attached and has stopped (the node is shutting down).</summary>
    public bool Stopped => _attached is { } a && a.System.WhenTerminated.IsCompleted;

    /// <summary>The node's actor system, its API gateway, the v1 JSON settings and their strict form for request bodies.</summary>
    public sealed record Attached(ExtendedActorSystem System, IActorRef Gateway, JsonSerializerOptions Json, JsonSerializerOptions BodyJson);
}
