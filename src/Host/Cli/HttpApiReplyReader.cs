using System.Globalization;
using System.Text.Json;
using Actorvisor.Host.Api.V1;

namespace Actorvisor.Host.Cli;

/// <summary>
/// Reads the replies of the commands typed most often (<c>vm list</c>, <c>vm describe</c>, and any error) from the HTTP
/// API's JSON by hand, through a <see cref="JsonDocument"/>: the serializer would first build its converters for every
/// record and property type, JIT-compiling a few hundred generic methods in a process that reads one reply (measured
/// with an EventPipe JIT trace of `vm list --http`). The field names and enum names are those of the v1 contract
/// (camelCase, enums by name, docs/api-v1.md); a reply it does not know is left to the serializer.
/// </summary>
public static class HttpApiReplyReader
{
    /// <summary>True and the reply when <paramref name="type"/> is one this reader knows; false to use the serializer.</summary>
    /// <exception cref="JsonException">The text is not JSON, or lacks a field the reply needs.</exception>
    public static bool TryRead(string text, Type type, out IApiReply? reply)
    {
        ArgumentNullException.ThrowIfNull(type);
        if (type != typeof(VmListReply) && type != typeof(VmDescriptionReply) && type != typeof(ApiErrorReply))
        {
            reply = null;
            return false;
        }
        using var document = JsonDocument.Parse(text);
        var root = document.RootElement;
        if (root.ValueKind != JsonValueKind.Object) throw new JsonException($"expected a JSON object, got {root.ValueKind}");
        try
        {
            if (type == typeof(VmListReply))
                reply = new VmListReply([.. Required(root, "vms").EnumerateArray().Select(Vm)], Strings(root, "unansweredNodes"));
            else if (type == typeof(VmDescriptionReply))
                reply = new VmDescriptionReply(Vm(Required(root, "vm")), String(root, "description")!, Strings(root, "devices") ?? [],
                    Required(root, "memslotCount").GetInt32(), String(root, "nodeAddress")!);
            else
                reply = new ApiErrorReply(Enum.Parse<ApiErrorCode>(String(root, "code")!, ignoreCase: false), String(root, "message")!, Optional(root, "field")?.GetString());
        }
        catch (Exception e) when (e is InvalidOperationException or FormatException or ArgumentException)
        {
            throw new JsonException($"not a {type.Name}: {e.Message}", e);
        }
        return true;
    }

    private static VmInfo Vm(JsonElement e) => new(
        String(e, "name")!, String(e, "node")!, Enum.Parse<VmStatus>(String(e, "status")!, ignoreCase: false), Required(e, "vcpus").GetInt32(),
        Required(e, "memoryBytes").GetUInt64(), String(e, "image")!, Optional(e, "outcome")?.GetString(), Optional(e, "restarts")?.GetInt32(),
        Optional(e, "startedAt") is { } started ? DateTimeOffset.Parse(started.GetString()!, CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind) : null,
        Optional(e, "exits")?.GetInt64());

    private static JsonElement Required(JsonElement e, string name) =>
        Optional(e, name) ?? throw new JsonException($"the field '{name}' is missing");

    // Absent and null are the same: an optional field not set.
    private static JsonElement? Optional(JsonElement e, string name) =>
        e.TryGetProperty(name, out var value) && value.ValueKind != JsonValueKind.Null ? value : null;

    private static string? String(JsonElement e, string name) => Required(e, name).GetString();

    private static string[]? Strings(JsonElement e, string name) =>
        Optional(e, name) is { } array ? [.. array.EnumerateArray().Select(s => s.GetString()!)] : null;
}
