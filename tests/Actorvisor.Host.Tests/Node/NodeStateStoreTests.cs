using Actorvisor.Host.Api.V1;
using Actorvisor.Host.Node.State;
using Microsoft.Data.Sqlite;

namespace Actorvisor.Host.Tests.Node;

/// <summary>
/// The node's desired state in SQLite: definitions, intents and restart counts survive closing and reopening; a file
/// that is not SQLite, a schema of another version or a row it cannot read is refused naming the file.
/// </summary>
public sealed class NodeStateStoreTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("actorvisor-state-").FullName;

    private string DbPath => NodeStateStore.PathIn(_dir);

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Definitions_intents_and_restart_counts_survive_a_reopen_and_a_destroyed_vm_is_gone()
    {
        var web = new ApiVmSpec("web", 2, 32UL << 20, "spin", Restart: "on-failure");
        var db = new ApiVmSpec("db", 1, 16UL << 20, "/images/db.elf", BootMode: "long", Format: "elf", Restart: "always");
        var old = new ApiVmSpec("old", 1, 16UL << 20, "hello");
        using (var store = NodeStateStore.Open(DbPath))
        {
            Assert.Empty(store.Load());
            store.Define(web);
            store.Define(db);
            store.Define(old);
            store.SetIntent("web", VmIntent.Running);
            store.SetIntent("db", VmIntent.Paused);
            store.SetRestarts("web", 3);
            store.Remove("old");
        }
        using (var store = NodeStateStore.Open(DbPath))
        {
            Assert.Equal([new StoredVm(db, VmIntent.Paused, 0), new StoredVm(web, VmIntent.Running, 3)], store.Load());
            // A definition stored again (a new VM of the same name) starts over.
            store.Define(web with { Vcpus = 1 });
            Assert.Equal(new StoredVm(web with { Vcpus = 1 }, VmIntent.Stopped, 0), store.Load().Single(v => v.Spec.Name == "web"));
        }
        using var check = new SqliteConnection($"Data Source={DbPath}");
        check.Open();
        using var version = check.CreateCommand();
        version.CommandText = "PRAGMA user_version";
        Assert.Equal((long)NodeStateStore.SchemaVersion, version.ExecuteScalar());
    }

    [Fact]
    public void A_file_that_is_not_sqlite_is_refused_naming_it()
    {
        File.WriteAllText(DbPath, "this is not a database, it is a text file that happens to have the name\n");
        var e = Assert.Throws<NodeStateException>(() => NodeStateStore.Open(DbPath));
        Assert.Equal(DbPath, e.Path);
        Assert.Contains(DbPath, e.Message);
        Assert.Contains("is not an SQLite database", e.Message);
    }

    [Fact]
    public void A_schema_version_it_does_not_know_is_refused_naming_the_file_and_the_version()
    {
        WithSql("CREATE TABLE vms (name TEXT); PRAGMA user_version = 99;");
        var e = Assert.Throws<NodeStateException>(() => NodeStateStore.Open(DbPath));
        Assert.Contains(DbPath, e.Message);
        Assert.Contains("schema version 99", e.Message);
    }

    [Fact]
    public void A_managed_save_survives_a_reopen_until_it_is_cleared_and_a_new_definition_has_none()
    {
        var web = new ApiVmSpec("web", 1, 16UL << 20, "spin", SnapshotOnStop: true);
        using (var store = NodeStateStore.Open(DbPath))
        {
            store.Define(web);
            store.SetIntent("web", VmIntent.Running);
            store.SetManagedSave("web", "managed-save.web.1");
        }
        using (var store = NodeStateStore.Open(DbPath))
        {
            Assert.Equal(new StoredVm(web, VmIntent.Running, 0, "managed-save.web.1"), Assert.Single(store.Load()));
            store.SetManagedSave("web", null);
            Assert.Null(Assert.Single(store.Load()).ManagedSave);
            store.SetManagedSave("web", "managed-save.web.2");
            store.Define(web);
            Assert.Null(Assert.Single(store.Load()).ManagedSave);
        }
    }

    [Fact]
    public void A_version_1_database_is_upgraded_in_place_and_keeps_its_vms()
    {
        WithSql("""
            CREATE TABLE vms (name TEXT PRIMARY KEY NOT NULL, spec TEXT NOT NULL, intent TEXT NOT NULL CHECK (intent IN ('stopped', 'running', 'paused')),
              restarts INTEGER NOT NULL DEFAULT 0, changed_at TEXT NOT NULL);
            INSERT INTO vms VALUES ('old', '{"name":"old","vcpus":1,"memoryBytes":16777216,"image":"hello","restart":"always"}', 'running', 2, '2026-01-01');
            PRAGMA user_version = 1;
            """);
        using (var store = NodeStateStore.Open(DbPath))
        {
            Assert.Equal(new StoredVm(new ApiVmSpec("old", 1, 16UL << 20, "hello", Restart: "always"), VmIntent.Running, 2), Assert.Single(store.Load()));
            store.SetManagedSave("old", "s");
        }
        using var reopened = NodeStateStore.Open(DbPath);
        Assert.Equal("s", Assert.Single(reopened.Load()).ManagedSave);
    }

    [Fact]
    public void Another_programs_sqlite_database_is_refused()
    {
        WithSql("CREATE TABLE notes (text TEXT);");
        var e = Assert.Throws<NodeStateException>(() => NodeStateStore.Open(DbPath));
        Assert.Contains("without a schema version", e.Message);
    }

    [Fact]
    public void A_row_it_cannot_read_is_refused_naming_the_vm()
    {
        using (var store = NodeStateStore.Open(DbPath)) store.Define(new ApiVmSpec("web", 1, 16UL << 20, "spin"));
        WithSql("UPDATE vms SET spec = '{not json' WHERE name = 'web';");
        using var reopened = NodeStateStore.Open(DbPath);
        var e = Assert.Throws<NodeStateException>(() => reopened.Load());
        Assert.Contains(DbPath, e.Message);
        Assert.Contains("VM 'web'", e.Message);
    }

    [Fact]
    public void A_damaged_page_is_refused_naming_the_file()
    {
        using (var store = NodeStateStore.Open(DbPath))
            for (int i = 0; i < 200; i++) store.Define(new ApiVmSpec($"vm-{i}", 1, 16UL << 20, "spin", CommandLine: new string('x', 200)));
        SqliteConnection.ClearAllPools();
        // Overwrite the second page onwards (the header stays): SQLite's own checks find the damage.
        var bytes = File.ReadAllBytes(DbPath);
        Assert.True(bytes.Length > 8192, $"the database is {bytes.Length} bytes");
        for (int i = 4096; i < bytes.Length; i++) bytes[i] = 0x5a;
        File.Delete(DbPath + "-wal");
        File.Delete(DbPath + "-shm");
        File.WriteAllBytes(DbPath, bytes);
        var e = Assert.Throws<NodeStateException>(() =>
        {
            using var store = NodeStateStore.Open(DbPath);
            store.Load();
        });
        Assert.Contains(DbPath, e.Message);
    }

    private void WithSql(string sql)
    {
        using var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = DbPath, Pooling = false }.ToString());
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }
}
