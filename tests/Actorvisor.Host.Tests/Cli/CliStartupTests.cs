using System.Text.Json;
using Actorvisor.Host.Api.V1;
using Actorvisor.Host.Cli;

namespace Actorvisor.Host.Tests.Cli;

/// <summary>What the quick CLI start-up path leaves out must not change what a command means: the lazily built tree and the generated JSON contract.</summary>
public sealed class CliStartupTests
{
    [Fact]
    public void Each_registered_name_builds_the_command_of_that_name_and_only_it()
    {
        var all = CliApp.Build().Subcommands.Select(c => c.Name).ToList();
        Assert.Equal(CliApp.Commands.Select(c => c.Name), all);
        foreach (var (name, _) in CliApp.Commands)
            Assert.Equal([name], CliApp.Build(name).Subcommands.Select(c => c.Name));
        // Not a command's name (root help, a typo, an option): every command, so help and suggestions see them all.
        foreach (var first in new[] { "--help", "vms", "" })
            Assert.Equal(all, CliApp.Build(first).Subcommands.Select(c => c.Name));
    }

    [Fact]
    public void A_lazily_built_tree_parses_a_command_line_as_the_whole_tree_does()
    {
        string[] args = ["vm", "list", "--http", "http://127.0.0.1:1", "--json"];
        var lazy = CliApp.Build("vm").Parse(args);
        var whole = CliApp.Build().Parse(args);
        Assert.Empty(lazy.Errors);
        Assert.Equal(whole.CommandResult.Command.Name, lazy.CommandResult.Command.Name);
        Assert.Equal("list", lazy.CommandResult.Command.Name);
        Assert.NotEmpty(CliApp.Build("vm").Parse(["vm", "lits"]).Errors);
    }

    [Fact]
    public void The_generated_contract_reads_a_reply_as_reflection_does()
    {
        var reply = new VmListReply(
            [new VmInfo("web-1", "n2", VmStatus.Paused, 2, 16UL << 20, "hello", "stopped on request", 3, DateTimeOffset.Parse("2026-12-07T05:00:00Z"))], ["n3"]);
        var text = JsonSerializer.Serialize(reply, new JsonSerializerOptions(ClusterCliRunner.Json) { WriteIndented = false });
        Assert.Contains("\"status\":\"Paused\"", text);
        var read = JsonSerializer.Deserialize<VmListReply>(text, HttpApiJson.ClientOptions)!;
        Assert.Equal(reply.Vms, read.Vms);
        Assert.Equal(["n3"], read.UnansweredNodes!);
        Assert.Equal(JsonSerializer.Serialize(reply, ClusterCliRunner.Json), JsonSerializer.Serialize(read, ClusterCliRunner.Json));
        // The reply's contract comes from the generated code, not the reflection fallback.
        Assert.IsType<HttpApiJson>(HttpApiJson.ClientOptions.GetTypeInfo(typeof(VmListReply)).OriginatingResolver);
    }
}
