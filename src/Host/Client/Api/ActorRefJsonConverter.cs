using System.Text.Json;
using System.Text.Json.Serialization;
using Akka.Actor;

namespace Actorvisor.Host.Api;

/// <summary>
/// Writes an actor reference as its full path (with the address the remote transport is sending from) and
/// resolves it on the receiving side, so a client can name an actor of its own that a node streams to.
/// </summary>
/// <param name="system">The actor system references are resolved in.</param>
public sealed class ActorRefJsonConverter(ExtendedActorSystem system) : JsonConverter<IActorRef>
{
    /// <inheritdoc />
    public override IActorRef? Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        if (reader.TokenType == JsonTokenType.Null) return null;
        if (reader.TokenType != JsonTokenType.String) throw new JsonException("an actor reference is a path string");
        var path = reader.GetString()!;
        try
        {
            if (!ActorPath.TryParse(path, out _)) throw new JsonException($"'{path}' is not an actor path");
            return system.Provider.ResolveActorRef(path);
        }
        catch (Exception e) when (e is FormatException or OverflowException)
        {
            // Akka throws these instead of answering "not a path" for some paths (found by the fuzz test): a port
            // that is not a number (TryParse), a uid after '#' that is not one (ResolveActorRef).
            throw new JsonException($"'{path}' is not an actor path: {e.Message}", e);
        }
    }

    /// <inheritdoc />
    public override void Write(Utf8JsonWriter writer, IActorRef value, JsonSerializerOptions options)
    {
        // Nobody has no address another system could resolve; it travels as null ("no actor").
        if (value.IsNobody()) writer.WriteNullValue();
        else writer.WriteStringValue(Akka.Serialization.Serialization.SerializedActorPath(value));
    }
}
