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

    private static readonly JsonSerializerOptions Wire = new(ClusterCliRunner.Json) { WriteIndented = false };

    private static T ReadBack<T>(T reply) where T : IApiReply
    {
        Assert.True(HttpApiReplyReader.TryRead(JsonSerializer.Serialize(reply, Wire), typeof(T), out var read));
        // Equal as the serializer writes them (records with lists compare their lists by reference).
        Assert.Equal(JsonSerializer.Serialize(reply, ClusterCliRunner.Json), JsonSerializer.Serialize((T)read!, ClusterCliRunner.Json));
        return (T)read!;
    }

    [Fact]
    public void The_hand_reader_reads_list_describe_and_error_replies_as_the_serializer_writes_them()
    {
        var full = new VmInfo("web-1", "n2", VmStatus.Paused, 2, 16UL << 20, "hello", "stopped on request", 3, DateTimeOffset.Parse("2026-12-07T05:00:00.123+00:00"), 1_234_567);
        var bare = new VmInfo("db", "n1", VmStatus.Created, 1, 1UL << 40, "/images/db.img", null);
        var list = ReadBack(new VmListReply([full, bare], ["n3"]));
        Assert.Equal([full, bare], list.Vms);
        Assert.Null(ReadBack(new VmListReply([])).UnansweredNodes);
        var description = ReadBack(new VmDescriptionReply(bare, "a VM", ["serial", "debug-exit"], 2, "akka.tcp://actorvisor@127.0.0.1:4053"));
        Assert.Equal((bare, 2), (description.Vm, description.MemslotCount));
        Assert.Equal(ApiErrorCode.NotFound, ReadBack(new ApiErrorReply(ApiErrorCode.NotFound, "no VM named x", "name")).Code);
        Assert.Null(ReadBack(new ApiErrorReply(ApiErrorCode.Timeout, "late")).Field);
    }

    [Fact]
    public void The_hand_reader_refuses_what_is_not_the_reply_and_leaves_other_replies_to_the_serializer()
    {
        Assert.Throws<JsonException>(() => HttpApiReplyReader.TryRead("{\"vms\": [{\"name\": \"a\"}]}", typeof(VmListReply), out _));
        Assert.Throws<JsonException>(() => HttpApiReplyReader.TryRead("{\"code\": \"NoSuchCode\", \"message\": \"m\"}", typeof(ApiErrorReply), out _));
        Assert.ThrowsAny<JsonException>(() => HttpApiReplyReader.TryRead("<html>", typeof(VmListReply), out _));
        Assert.Throws<JsonException>(() => HttpApiReplyReader.TryRead("[]", typeof(VmListReply), out _));
        Assert.False(HttpApiReplyReader.TryRead("{}", typeof(ClusterStatusReply), out var other));
        Assert.Null(other);
    }
}
