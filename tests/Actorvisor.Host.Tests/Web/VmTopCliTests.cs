using System.Net;
using System.Text.Json;
using System.Text.RegularExpressions;
using Actorvisor.Host.Tests.Cluster;

namespace Actorvisor.Host.Tests.Web;

/// <summary>
/// `actorvisor vm top --once` through a node's HTTP API: one table of the VMs with their state and uptime, then exit;
/// --json only with --once.
/// </summary>
public sealed class VmTopCliTests(WebNodeFixture fixture) : IClassFixture<WebNodeFixture>
{
    private WebNode Node => fixture.Node;

    private Task<CliResult> Cli(params string[] args) => ActorvisorProcess.RunAsync(["vm", "top", .. args, "--http", Node.BaseUrl, "--token", WebNode.Token]);

    [Fact]
    public async Task Once_prints_one_table_of_the_vms_with_state_and_uptime_and_exits()
    {
        Assert.Equal(HttpStatusCode.Created, (await Node.Send(HttpMethod.Post, "/api/v1/vms", json: WebNode.CreateBody("top-new", "hello"))).Status);
        // A started VM, paused at once: it keeps an uptime without spinning a core for the rest of the test.
        Assert.Equal(HttpStatusCode.Created, (await Node.Send(HttpMethod.Post, "/api/v1/vms", json: WebNode.CreateBody("top-up", "spin"))).Status);
        Assert.Equal(HttpStatusCode.OK, (await Node.Send(HttpMethod.Post, "/api/v1/vms/top-up/start")).Status);
        Assert.Equal(HttpStatusCode.OK, (await Node.Send(HttpMethod.Post, "/api/v1/vms/top-up/pause")).Status);
        try
        {
            var top = await Cli("--once");
            Assert.True(top.ExitCode == 0, top.ToString());
            var newRow = top.Stdout.Split('\n').Single(l => l.Contains("top-new", StringComparison.Ordinal));
            Assert.Contains("Created", newRow);
            var upRow = top.Stdout.Split('\n').Single(l => l.Contains("top-up", StringComparison.Ordinal));
            Assert.Contains("Paused", upRow);
            Assert.Matches(new Regex(@"\b\d\d:\d\d:\d\d\b"), upRow);
            Assert.Contains("2 VMs, 0 running", top.Stdout);

            var json = await Cli("--once", "--json");
            Assert.True(json.ExitCode == 0, json.ToString());
            var names = JsonDocument.Parse(json.Stdout).RootElement.GetProperty("vms").EnumerateArray().Select(v => v.GetProperty("name").GetString()).Order().ToArray();
            Assert.Equal(["top-new", "top-up"], names);
            // A VM that never ran has no exits; the node reports the count (0) rather than leaving it out.
            var topNew = JsonDocument.Parse(json.Stdout).RootElement.GetProperty("vms").EnumerateArray().Single(v => v.GetProperty("name").GetString() == "top-new");
            Assert.Equal(0, topNew.GetProperty("exits").GetInt64());
            Assert.Contains("EXITS", top.Stdout);

            var liveJson = await Cli("--json");
            Assert.Equal(2, liveJson.ExitCode);
            Assert.Contains("--once", liveJson.Stderr);
        }
        finally
        {
            await Node.Send(HttpMethod.Post, "/api/v1/vms/top-up/destroy");
            await Node.Send(HttpMethod.Post, "/api/v1/vms/top-new/destroy");
        }
    }
}
