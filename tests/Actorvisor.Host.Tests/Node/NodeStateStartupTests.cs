using Actorvisor.Host.Cluster;
using Actorvisor.Host.Node.State;
using Actorvisor.Host.Tests.Cluster;
using Microsoft.Data.Sqlite;

namespace Actorvisor.Host.Tests.Node;

/// <summary>
/// `actorvisor node` on a data directory whose state database it cannot use exits 3 at start with an error naming the
/// file, and never comes up with an empty registry.
/// </summary>
public sealed class NodeStateStartupTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("actorvisor-state-startup-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string DataDir => Path.Combine(_dir, "data");

    private string DbPath => NodeStateStore.PathIn(DataDir);

    private async Task<CliResult> Node() =>
        await ActorvisorProcess.RunAsync(["node", "--name", "n1", "--port", LoopbackCluster.FreePorts(1)[0].ToString(), "--data-dir", DataDir,
            "--vcpus", "2", "--memory", "64M"], TimeSpan.FromSeconds(60));

    [Fact]
    public async Task A_state_file_that_is_not_sqlite_stops_the_node_naming_the_file()
    {
        Directory.CreateDirectory(DataDir);
        await File.WriteAllTextAsync(DbPath, "garbage where the node's VMs should be\n");
        var r = await Node();
        Assert.True(r.ExitCode == 3, r.ToString());
        Assert.Contains($"actorvisor node: the node's state database {DbPath} is not an SQLite database", r.Stderr);
        Assert.DoesNotContain("is Up in cluster", r.Stdout);
    }

    [Fact]
    public async Task Check_config_names_a_damaged_state_file_too()
    {
        Directory.CreateDirectory(DataDir);
        await File.WriteAllTextAsync(DbPath, "not SQLite");
        var r = await ActorvisorProcess.RunAsync(["node", "--check-config", "--data-dir", DataDir], TimeSpan.FromSeconds(60));
        Assert.True(r.ExitCode == 3, r.ToString());
        Assert.Contains($"{DbPath} is not an SQLite database", r.Stderr);
    }

    [Fact]
    public async Task A_state_file_of_an_unknown_schema_stops_the_node_naming_the_file()
    {
        Directory.CreateDirectory(DataDir);
        using (var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = DbPath, Pooling = false }.ToString()))
        {
            connection.Open();
            using var command = connection.CreateCommand();
            command.CommandText = "CREATE TABLE vms (name TEXT PRIMARY KEY); PRAGMA user_version = 7;";
            command.ExecuteNonQuery();
        }
        var r = await Node();
        Assert.True(r.ExitCode == 3, r.ToString());
        Assert.Contains($"{DbPath} has schema version 7; this actorvisor knows version {NodeStateStore.SchemaVersion}", r.Stderr);
    }
}
