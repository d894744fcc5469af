using System.Net;
using System.Text.Json;
using Actorvisor.Host.Tests.Cluster;

namespace Actorvisor.Host.Tests.Web;

/// <summary>
/// `actorvisor vm list` and `vm describe` with --http: the CLI asks a node's HTTP API (no actor system of its own) and
/// prints the same tables and JSON; errors keep their exit codes (1 for the node's refusals, 2 for bad usage).
/// </summary>
public sealed class HttpCliTests(WebNodeFixture fixture) : IClassFixture<WebNodeFixture>
{
    private WebNode Node => fixture.Node;

    private Task<CliResult> Cli(params string[] args) => ActorvisorProcess.RunAsync([.. args, "--http", Node.BaseUrl]);

    [Fact]
    public async Task List_and_describe_answer_through_the_http_api()
    {
        Assert.Equal(HttpStatusCode.Created, (await Node.Send(HttpMethod.Post, "/api/v1/vms", json: WebNode.CreateBody("cli-http", "hello"))).Status);

        var list = await Cli("vm", "list", "--token", WebNode.Token);
        Assert.True(list.ExitCode == 0, list.ToString());
        Assert.Contains("cli-http", list.Stdout);
        Assert.Contains("Created", list.Stdout);

        var json = await Cli("vm", "list", "--token", WebNode.Token, "--json");
        Assert.True(json.ExitCode == 0, json.ToString());
        var vm = JsonDocument.Parse(json.Stdout).RootElement.GetProperty("vms").EnumerateArray().Single(v => v.GetProperty("name").GetString() == "cli-http");
        Assert.Equal("w1", vm.GetProperty("node").GetString());

        var describe = await Cli("vm", "describe", "cli-http", "--token", WebNode.Token, "--json");
        Assert.True(describe.ExitCode == 0, describe.ToString());
        var description = JsonDocument.Parse(describe.Stdout).RootElement;
        Assert.Equal("cli-http", description.GetProperty("vm").GetProperty("name").GetString());
        Assert.Contains("com1", description.GetProperty("devices").EnumerateArray().Select(d => d.GetString()));

        // The token from the environment, as for the cluster client.
        var fromEnv = await ActorvisorProcess.RunAsync(["vm", "describe", "cli-http"],
            environment: new Dictionary<string, string> { ["ACTORVISOR_HTTP"] = Node.BaseUrl, ["ACTORVISOR_TOKEN"] = WebNode.Token });
        Assert.True(fromEnv.ExitCode == 0, fromEnv.ToString());
        Assert.Contains("cli-http", fromEnv.Stdout);

        Assert.Equal(HttpStatusCode.OK, (await Node.Send(HttpMethod.Post, "/api/v1/vms/cli-http/destroy")).Status);
    }

    [Fact]
    public async Task Refusals_and_bad_options_keep_their_exit_codes()
    {
        var unknown = await Cli("vm", "describe", "no-such-vm", "--token", WebNode.Token);
        Assert.Equal(1, unknown.ExitCode);
        Assert.Contains("NotFound", unknown.Stderr);

        var wrong = await Cli("vm", "list", "--token", "wrong");
        Assert.Equal(1, wrong.ExitCode);
        Assert.Contains("Unauthorized", wrong.Stderr);
        Assert.Contains("Authorization: Bearer", wrong.Stderr);

        var badUrl = await ActorvisorProcess.RunAsync(["vm", "list", "--http", "ftp://127.0.0.1:1"]);
        Assert.Equal(2, badUrl.ExitCode);
        Assert.Contains("--http", badUrl.Stderr);

        var badName = await Cli("vm", "describe", "bad/name", "--token", WebNode.Token);
        Assert.Equal(2, badName.ExitCode);

        int closed = Actorvisor.Host.Cluster.LoopbackCluster.FreePorts(1)[0];
        var nobody = await ActorvisorProcess.RunAsync(["vm", "list", "--http", $"http://127.0.0.1:{closed}", "--token", "x"]);
        Assert.Equal(1, nobody.ExitCode);
        Assert.Contains("cannot be reached", nobody.Stderr);
    }
}
