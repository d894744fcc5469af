namespace Actorvisor.Host.Node.State;

/// <summary>
/// The node's state database at <see cref="Path"/> cannot be used (not an SQLite file, a schema this version does not
/// know, an unreadable row, a failed write): the node refuses to start rather than come up with an empty registry.
/// </summary>
public sealed class NodeStateException(string path, string problem, Exception? inner = null)
    : Exception($"the node's state database {path} {problem}", inner)
{
    /// <summary>The database file.</summary>
    public string Path { get; } = path;
}
