using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Logging.Console;

namespace Actorvisor.Host.Node;

/// <summary>
/// The node's <c>--log-format json</c> console format: one JSON object per line with <c>time</c>, <c>level</c>,
/// <c>category</c>, <c>node</c> (this node's name, on every line), <c>vm</c> (when the event is about one VM: a
/// <c>Vm</c> field of the message, or the VM actor named in an actor path), <c>message</c>, the message's own
/// fields and <c>exception</c>. Owns nothing but the node name.
/// </summary>
public sealed partial class NodeJsonConsoleFormatter : ConsoleFormatter
{
    /// <summary>The formatter's name for AddConsole.</summary>
    public const string FormatterName = "actorvisor-json";

    private readonly string _node;

    /// <summary>A formatter for the logs of node <paramref name="node"/>.</summary>
    public NodeJsonConsoleFormatter(string node) : base(FormatterName) => _node = node;

    /// <inheritdoc />
    public override void Write<TState>(in LogEntry<TState> logEntry, IExternalScopeProvider? scopeProvider, TextWriter textWriter)
    {
        string message = logEntry.Formatter?.Invoke(logEntry.State, logEntry.Exception) ?? logEntry.State?.ToString() ?? "";
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            json.WriteStartObject();
            json.WriteString("time", DateTimeOffset.UtcNow.ToString("O", System.Globalization.CultureInfo.InvariantCulture));
            json.WriteString("level", logEntry.LogLevel.ToString());
            json.WriteString("category", logEntry.Category);
            json.WriteString("node", _node);
            string? vm = null;
            var fields = new List<KeyValuePair<string, object?>>();
            if (logEntry.State is IReadOnlyList<KeyValuePair<string, object?>> state)
            {
                foreach (var field in state)
                {
                    if (field.Key == "{OriginalFormat}") continue;
                    if (vm is null && field.Key.Equals("Vm", StringComparison.OrdinalIgnoreCase) && field.Value is string named) vm = named;
                    if (vm is null && field.Value is string text && VmActorPath().Match(text) is { Success: true } m) vm = m.Groups["vm"].Value;
                    fields.Add(field);
                }
            }
            if (vm is null && VmActorPath().Match(message) is { Success: true } inMessage) vm = inMessage.Groups["vm"].Value;
            if (vm is not null) json.WriteString("vm", vm);
            json.WriteString("message", message);
            foreach (var (key, value) in fields)
            {
                if (key is "time" or "level" or "category" or "node" or "vm" or "message" or "exception") continue;
                json.WriteString(key, Convert.ToString(value, System.Globalization.CultureInfo.InvariantCulture));
            }
            if (logEntry.Exception is { } e) json.WriteString("exception", e.ToString());
            json.WriteEndObject();
        }
        textWriter.Write(System.Text.Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length));
        textWriter.Write('\n');
    }

    // A VM actor in an actor path: .../vms/vm-NAME-SERIAL (the registry names its VM actors so).
    [GeneratedRegex(@"/vms/vm-(?<vm>[A-Za-z0-9._-]+?)-\d+(?:[/#\]]|$)")]
    private static partial Regex VmActorPath();
}
