using System.Collections;
using System.Net;
using System.Text.Json;
using Actorvisor.Host.Node;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Actorvisor.Host.Tests.Node;

/// <summary>Node:HttpEndpoint and Logging:Format: parsed, defaulted, refused with the setting named; the JSON log line.</summary>
public sealed class NodeObservabilitySettingsTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("actorvisor-obs-settings-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private NodeSettings Load(params (string Key, string Value)[] flags)
    {
        var all = flags.ToDictionary(f => f.Key, f => (IReadOnlyList<string>)[f.Value], StringComparer.OrdinalIgnoreCase);
        all["Node:DataDir"] = [Path.Combine(_dir, "data")];
        return NodeSettingsLoader.Load(null, all, new Hashtable());
    }

    [Fact]
    public void The_endpoint_is_off_and_logs_are_simple_by_default()
    {
        var s = Load();
        Assert.Null(s.HttpEndpoint);
        Assert.Equal("simple", s.LogFormat);
    }

    [Fact]
    public void The_endpoint_and_the_json_format_are_read()
    {
        var s = Load(("Node:HttpEndpoint", "127.0.0.1:9464"), ("Logging:Format", "JSON"));
        Assert.Equal(new IPEndPoint(IPAddress.Loopback, 9464), s.HttpEndpoint);
        Assert.Equal("json", s.LogFormat);
        Assert.Equal(new IPEndPoint(IPAddress.IPv6Loopback, 9100), Load(("Node:HttpEndpoint", "[::1]:9100")).HttpEndpoint);
    }

    [Theory]
    [InlineData("Node:HttpEndpoint", "localhost:9464", "is not an IP address and port")]
    [InlineData("Node:HttpEndpoint", "127.0.0.1", "has no port")]
    [InlineData("Node:HttpEndpoint", "127.0.0.1:99999", "is not an IP address and port")]
    [InlineData("Logging:Format", "xml", "is not a log format (simple, json)")]
    public void A_bad_value_is_named(string setting, string value, string problem)
    {
        var e = Assert.Throws<NodeConfigException>(() => Load((setting, value)));
        Assert.Equal($"{setting}: '{value}' {problem}", e.Message.Split(", e.g.")[0]);
    }

    [Fact]
    public void A_json_log_line_carries_the_node_the_vm_and_the_message_fields()
    {
        var formatter = new NodeJsonConsoleFormatter("hv-1");
        var state = new List<KeyValuePair<string, object?>>
        {
            new("Vm", "web-1"), new("Step", "CloseFds"), new("{OriginalFormat}", "VM {Vm} step {Step}"),
        };
        using var writer = new StringWriter();
        formatter.Write(new LogEntry<List<KeyValuePair<string, object?>>>(LogLevel.Information, "Actorvisor.Vm", default, state, null,
            (_, _) => "VM web-1 step CloseFds"), null, writer);
        var line = JsonDocument.Parse(writer.ToString()).RootElement;
        Assert.Equal("hv-1", line.GetProperty("node").GetString());
        Assert.Equal("web-1", line.GetProperty("vm").GetString());
        Assert.Equal("VM web-1 step CloseFds", line.GetProperty("message").GetString());
        Assert.Equal("CloseFds", line.GetProperty("Step").GetString());
        Assert.Equal("Information", line.GetProperty("level").GetString());

        // An Akka log event names the VM only through its actor's path.
        using var akka = new StringWriter();
        formatter.Write(new LogEntry<string>(LogLevel.Warning, "Akka", default, "x", null,
            (_, _) => "[akka://actorvisor/user/hypervisor/vms/vm-db-2-7] teardown slow"), null, akka);
        Assert.Equal("db-2", JsonDocument.Parse(akka.ToString()).RootElement.GetProperty("vm").GetString());
    }
}
