using System.Collections.Frozen;
using System.Runtime.Serialization;
using System.Text.Json;
using System.Text.Json.Serialization;
using Akka.Actor;
using Akka.Event;
using Akka.Serialization;

namespace Actorvisor.Host.Api;

/// <summary>
/// An explicit serializer for a closed set of message types: System.Text.Json, one string manifest per type,
/// and a size limit per type. Anything else is refused: an unknown manifest, a payload over its limit,
/// bytes that are not the JSON of that type. A refusal is logged as an error and thrown as a
/// <see cref="SerializationException"/>, which Akka.Remote turns into a dropped message, never a crash.
/// </summary>
public abstract class JsonManifestSerializer : SerializerWithStringManifest
{
    private readonly FrozenDictionary<Type, MessageType> _byType;
    private readonly FrozenDictionary<string, MessageType> _byManifest;
    private readonly JsonSerializerOptions _options;
    // Serializers are built while the actor system starts, before logging can be; log on first use.
    private readonly Lazy<ILoggingAdapter> _log;
    private long _rejected;

    /// <summary>A serializer for <paramref name="types"/> in <paramref name="system"/>.</summary>
    /// <param name="system">The actor system it serializes for (actor references are resolved in it).</param>
    /// <param name="types">Every message type it serializes.</param>
    /// <param name="omitNulls">
    /// Leave out properties whose value is null instead of writing them as null: an optional field added later (null
    /// by default) then leaves every message that does not set it exactly as it was on the wire.
    /// </param>
    protected JsonManifestSerializer(ExtendedActorSystem system, IEnumerable<MessageType> types, bool omitNulls = false) : base(system)
    {
        var list = types.ToList();
        _byType = list.ToFrozenDictionary(t => t.Type);
        _byManifest = list.ToFrozenDictionary(t => t.Manifest, StringComparer.Ordinal);
        _options = CreateOptions(system);
        if (omitNulls) _options.DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull;
        _log = new Lazy<ILoggingAdapter>(() => Logging.GetLogger(system, GetType()));
    }

    /// <summary>The JSON settings every Actorvisor message uses: camelCase, enums as strings, shallow nesting.</summary>
    /// <param name="system">The actor system actor references are resolved in.</param>
    public static JsonSerializerOptions CreateOptions(ExtendedActorSystem system) => new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        PropertyNameCaseInsensitive = false,
        MaxDepth = 16,
        Converters = { new JsonStringEnumConverter(), new ActorRefJsonConverter(system), new FiniteDoubleJsonConverter() },
    };

    /// <summary>The payloads refused so far (unknown manifest, oversize, malformed).</summary>
    public long RejectedCount => Interlocked.Read(ref _rejected);

    /// <summary>Every registered message type.</summary>
    public IEnumerable<MessageType> MessageTypes => _byType.Values;

    /// <inheritdoc />
    public override string Manifest(object o) => Lookup(o).Manifest;

    /// <inheritdoc />
    public override byte[] ToBinary(object obj)
    {
        var type = Lookup(obj);
        var bytes = JsonSerializer.SerializeToUtf8Bytes(obj, type.Type, _options);
        if (bytes.Length > type.MaxBytes)
            throw Reject(type.Manifest, bytes.Length, $"the message is {bytes.Length} bytes, more than the {type.MaxBytes} allowed for it");
        return bytes;
    }

    /// <inheritdoc />
    public override object FromBinary(byte[] bytes, string manifest)
    {
        if (manifest is null || !_byManifest.TryGetValue(manifest, out var type))
            throw Reject(manifest, bytes.Length, "unknown manifest (a client of another API version, or not an Actorvisor message)");
        if (bytes.Length > type.MaxBytes)
            throw Reject(manifest, bytes.Length, $"the payload is {bytes.Length} bytes, more than the {type.MaxBytes} allowed");
        object? message;
        try
        {
            message = JsonSerializer.Deserialize(bytes, type.Type, _options);
        }
        catch (Exception e) when (e is JsonException or NotSupportedException or ArgumentException or InvalidOperationException)
        {
            // A converter's own refusal carries the field only in Path, not in its message.
            string at = e is JsonException { Path: { } path } && !e.Message.Contains(path, StringComparison.Ordinal) ? $" (at {path})" : "";
            throw Reject(manifest, bytes.Length, $"malformed payload: {e.Message}{at}");
        }
        return message ?? throw Reject(manifest, bytes.Length, "the payload is JSON null");
    }

    private MessageType Lookup(object o) =>
        _byType.TryGetValue(o.GetType(), out var t) ? t : throw new ArgumentException($"{GetType().Name} does not serialize {o.GetType().FullName}", nameof(o));

    private SerializationException Reject(string? manifest, int size, string reason)
    {
        Interlocked.Increment(ref _rejected);
        var printable = manifest is null ? "(none)" : new string(manifest.Take(64).Select(c => char.IsControl(c) ? '?' : c).ToArray());
        _log.Value.Error("{0} rejected a payload (manifest '{1}', {2} bytes): {3}", GetType().Name, printable, size, reason);
        return new SerializationException($"{GetType().Name}: manifest '{printable}': {reason}");
    }

    /// <summary>A message type, its manifest and the largest payload accepted for it.</summary>
    /// <param name="Type">The message's CLR type.</param>
    /// <param name="Manifest">The string that names it on the wire.</param>
    /// <param name="MaxBytes">The largest serialized payload accepted.</param>
    public sealed record MessageType(Type Type, string Manifest, int MaxBytes);
}
