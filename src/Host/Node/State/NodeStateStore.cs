using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Actorvisor.Host.Api.V1;
using Microsoft.Data.Sqlite;

namespace Actorvisor.Host.Node.State;

/// <summary>
/// The node's desired state in SQLite (Microsoft.Data.Sqlite) in its data directory: one row per VM with its
/// definition (the <see cref="ApiVmSpec"/> as created, as JSON), its lifecycle intent, its restart count and its
/// managed save (the snapshot its node took of it at a graceful stop, to restore it from). The schema is versioned with
/// SQLite's user_version (<see cref="SchemaVersion"/>; a version-1 file, without managed saves, is upgraded in place when
/// opened); a file that is not SQLite, or has another version, or rows it cannot read, is refused with a <see cref="NodeStateException"/> naming the file. Writes are
/// synchronous transactions (WAL, synchronous=FULL), so a VM's intent is on disk before the node answers the request
/// that changed it. Not thread-safe: opened and loaded on the starting thread, then used only by the
/// <see cref="NodeStateActor"/>.
/// </summary>
public sealed class NodeStateStore : IDisposable
{
    /// <summary>The database's file name in the node's data directory.</summary>
    public const string FileName = "node-state.db";

    /// <summary>The schema this version writes and reads (PRAGMA user_version): 2 added the managed save.</summary>
    public const int SchemaVersion = 2;

    private static readonly byte[] SqliteHeader = Encoding.ASCII.GetBytes("SQLite format 3\0");

    private static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    private readonly SqliteConnection _connection;

    private NodeStateStore(string path, SqliteConnection connection)
    {
        Path = path;
        _connection = connection;
    }

    /// <summary>The database file.</summary>
    public string Path { get; }

    /// <summary>The database of the node whose data directory is <paramref name="dataDir"/>.</summary>
    public static string PathIn(string dataDir) => System.IO.Path.Combine(dataDir, FileName);

    /// <summary>
    /// Opens (creating it if there is none) the database at <paramref name="path"/> and checks it: SQLite, intact,
    /// of schema <see cref="SchemaVersion"/>.
    /// </summary>
    /// <exception cref="NodeStateException">the file is not such a database.</exception>
    public static NodeStateStore Open(string path)
    {
        CheckHeader(path);
        var connection = new SqliteConnection(new SqliteConnectionStringBuilder
        {
            DataSource = path,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Pooling = false,
        }.ToString());
        try
        {
            connection.Open();
            var check = Scalar(connection, "PRAGMA quick_check") as string;
            if (check != "ok") throw new NodeStateException(path, $"is damaged (SQLite quick_check: {check})");
            var version = Convert.ToInt32(Scalar(connection, "PRAGMA user_version"), CultureInfo.InvariantCulture);
            if (version == 0)
            {
                var tables = Convert.ToInt64(Scalar(connection, "SELECT count(*) FROM sqlite_master"), CultureInfo.InvariantCulture);
                if (tables > 0) throw new NodeStateException(path, "is an SQLite database without a schema version (user_version 0) that is not a node's state; move it away");
                CreateSchema(connection);
            }
            else if (version == 1)
            {
                AddManagedSave(connection);
            }
            else if (version != SchemaVersion)
            {
                throw new NodeStateException(path, $"has schema version {version}; this actorvisor knows version {SchemaVersion}" +
                    (version > SchemaVersion ? " (written by a newer actorvisor?)" : ""));
            }
            Execute(connection, "PRAGMA journal_mode=WAL");
            Execute(connection, "PRAGMA synchronous=FULL");
            return new NodeStateStore(path, connection);
        }
        catch (SqliteException e)
        {
            connection.Dispose();
            throw new NodeStateException(path, $"cannot be read as a node state database: {e.Message}", e);
        }
        catch
        {
            connection.Dispose();
            throw;
        }
    }

    /// <summary>Every stored VM, by name.</summary>
    /// <exception cref="NodeStateException">a row cannot be read.</exception>
    public IReadOnlyList<StoredVm> Load()
    {
        var vms = new List<StoredVm>();
        try
        {
            using var command = _connection.CreateCommand();
            command.CommandText = "SELECT name, spec, intent, restarts, managed_save FROM vms ORDER BY name";
            using var reader = command.ExecuteReader();
            while (reader.Read())
            {
                var name = reader.GetString(0);
                ApiVmSpec? spec;
                try
                {
                    spec = JsonSerializer.Deserialize<ApiVmSpec>(reader.GetString(1), Json);
                }
                catch (JsonException e)
                {
                    throw new NodeStateException(Path, $"holds VM '{name}' with a spec that cannot be read: {e.Message}", e);
                }
                if (spec is null || spec.Name != name) throw new NodeStateException(Path, $"holds VM '{name}' with a spec of another name ({spec?.Name ?? "none"})");
                if (!Enum.TryParse<VmIntent>(reader.GetString(2), ignoreCase: true, out var intent) || !Enum.IsDefined(intent))
                    throw new NodeStateException(Path, $"holds VM '{name}' with an unknown intent '{reader.GetString(2)}'");
                vms.Add(new StoredVm(spec, intent, reader.GetInt32(3), reader.IsDBNull(4) ? null : reader.GetString(4)));
            }
        }
        catch (SqliteException e)
        {
            throw new NodeStateException(Path, $"cannot be read: {e.Message}", e);
        }
        return vms;
    }

    /// <summary>Records a newly created VM: its definition, intent <see cref="VmIntent.Stopped"/>, no restarts, no managed save (replacing any older row of that name).</summary>
    public void Define(ApiVmSpec spec) => Write(
        "INSERT OR REPLACE INTO vms (name, spec, intent, restarts, managed_save, changed_at) VALUES ($name, $spec, $intent, 0, NULL, $now)",
        ("$name", spec.Name), ("$spec", JsonSerializer.Serialize(spec, Json)), ("$intent", Name(VmIntent.Stopped)));

    /// <summary>Records VM <paramref name="name"/>'s lifecycle intent.</summary>
    public void SetIntent(string name, VmIntent intent) =>
        Write("UPDATE vms SET intent = $intent, changed_at = $now WHERE name = $name", ("$name", name), ("$intent", Name(intent)));

    /// <summary>Records VM <paramref name="name"/>'s restart count.</summary>
    public void SetRestarts(string name, int restarts) =>
        Write("UPDATE vms SET restarts = $restarts, changed_at = $now WHERE name = $name", ("$name", name), ("$restarts", restarts));

    /// <summary>Records VM <paramref name="name"/>'s managed save: the snapshot to restore it from (null: none, a cold boot).</summary>
    public void SetManagedSave(string name, string? snapshot) =>
        Write("UPDATE vms SET managed_save = $snapshot, changed_at = $now WHERE name = $name", ("$name", name), ("$snapshot", (object?)snapshot ?? DBNull.Value));

    /// <summary>Forgets VM <paramref name="name"/> (destroyed).</summary>
    public void Remove(string name) => Write("DELETE FROM vms WHERE name = $name", ("$name", name));

    /// <summary>Closes the database.</summary>
    public void Dispose() => _connection.Dispose();

    private static string Name(VmIntent intent) => intent.ToString().ToLowerInvariant();

    private void Write(string sql, params (string Name, object Value)[] parameters)
    {
        try
        {
            using var command = _connection.CreateCommand();
            command.CommandText = sql;
            foreach (var (n, v) in parameters) command.Parameters.AddWithValue(n, v);
            if (sql.Contains("$now", StringComparison.Ordinal)) command.Parameters.AddWithValue("$now", DateTimeOffset.UtcNow.ToString("O", CultureInfo.InvariantCulture));
            command.ExecuteNonQuery();
        }
        catch (SqliteException e)
        {
            throw new NodeStateException(Path, $"could not be written: {e.Message}", e);
        }
    }

    // SQLite's own check would say "file is not a database" only at the first statement; say what the file is not at once.
    private static void CheckHeader(string path)
    {
        FileStream file;
        try
        {
            file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        }
        catch (FileNotFoundException)
        {
            return;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new NodeStateException(path, $"cannot be opened: {e.Message}", e);
        }
        using (file)
        {
            // An empty file is what a crash between creating the file and the first write leaves: nothing was stored yet.
            if (file.Length == 0) return;
            var head = new byte[SqliteHeader.Length];
            int read = file.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
            if (read < head.Length || !head.AsSpan().SequenceEqual(SqliteHeader))
                throw new NodeStateException(path, "is not an SQLite database (it does not start with the SQLite header); move it away or restore it from a backup");
        }
    }

    private static void CreateSchema(SqliteConnection connection)
    {
        using var transaction = connection.BeginTransaction();
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = $"""
            CREATE TABLE vms (
              name TEXT PRIMARY KEY NOT NULL,
              spec TEXT NOT NULL,
              intent TEXT NOT NULL CHECK (intent IN ('stopped', 'running', 'paused')),
              restarts INTEGER NOT NULL DEFAULT 0,
              changed_at TEXT NOT NULL,
              managed_save TEXT
            );
            PRAGMA user_version = {SchemaVersion};
            """;
        command.ExecuteNonQuery();
        transaction.Commit();
    }

    // Version 1 to 2: the managed save, null (none) for the VMs already stored; in one transaction with the new version.
    private static void AddManagedSave(SqliteConnection connection)
    {
        using var transaction = connection.BeginTransaction();
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = "ALTER TABLE vms ADD COLUMN managed_save TEXT; PRAGMA user_version = 2;";
        command.ExecuteNonQuery();
        transaction.Commit();
    }

    private static object? Scalar(SqliteConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        return command.ExecuteScalar();
    }

    private static void Execute(SqliteConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }
}
