using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
using Actorvisor.Host.Api.V1;

namespace Actorvisor.Host.Cli;

/// <summary>
/// The JSON contract of the replies <see cref="HttpApiClient"/> reads, generated at build time (camelCase, enums as
/// names, as <see cref="ClusterCliRunner.Json"/>), so a one-shot CLI process does not build serializers by reflection
/// before it can read its one reply; anything else falls back to reflection.
/// </summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, UseStringEnumConverter = true)]
[JsonSerializable(typeof(VmListReply))]
[JsonSerializable(typeof(VmDescriptionReply))]
[JsonSerializable(typeof(VmReply))]
[JsonSerializable(typeof(ClusterStatusReply))]
[JsonSerializable(typeof(ApiErrorReply))]
internal sealed partial class HttpApiJson : JsonSerializerContext
{
    private static JsonSerializerOptions? _clientOptions;

    /// <summary>Options with the generated contract first and reflection for the rest, on one line.</summary>
    /// <remarks>Made on first use: a static initializer here could run before the generated <c>Default</c>'s (their order
    /// across the partial files is not defined), and the generated contract would silently be left out.</remarks>
    public static JsonSerializerOptions ClientOptions => LazyInitializer.EnsureInitialized(ref _clientOptions, () => new(ClusterCliRunner.Json)
    {
        WriteIndented = false,
        TypeInfoResolver = JsonTypeInfoResolver.Combine(Default, new DefaultJsonTypeInfoResolver()),
    });
}
