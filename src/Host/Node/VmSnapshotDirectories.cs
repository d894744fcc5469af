using Actorvisor.Hardware.Native;
using Actorvisor.Hardware.Snapshots;
using Actorvisor.Host.Api.V1;

namespace Actorvisor.Host.Node;

/// <summary>
/// The node's snapshot directories (Node:SnapshotDirectories), each opened as a <see cref="ConfinedDirectory"/>: a client
/// names a snapshot by a plain name (see <see cref="ApiValidator"/>), never a path. A new snapshot goes into the first
/// directory; a restore finds the name in any of them, and every file its manifest lists must open beneath that
/// directory (no symbolic link out, a regular file), as image files are. At start the node removes from them what
/// snapshot writes cut short by a crash left (<see cref="RemoveAbandonedPartials"/>).
/// </summary>
public sealed class VmSnapshotDirectories : IDisposable
{
    private readonly IReadOnlyList<ConfinedDirectory> _directories;
    private readonly string _nodeName;

    /// <summary>Opens <paramref name="directories"/> for node <paramref name="nodeName"/>.</summary>
    /// <exception cref="NodeConfigException">a directory cannot be opened.</exception>
    public VmSnapshotDirectories(IReadOnlyList<string> directories, string nodeName)
    {
        var opened = new List<ConfinedDirectory>();
        foreach (var d in directories)
        {
            try
            {
                opened.Add(ConfinedDirectory.Open(d));
            }
            catch (SyscallException e)
            {
                foreach (var o in opened) o.Dispose();
                throw new NodeConfigException("Node:SnapshotDirectories", $"{d} cannot be opened as a directory: {e.Message}");
            }
        }
        _directories = opened;
        _nodeName = nodeName;
    }

    /// <summary>Where a new snapshot called <paramref name="name"/> goes, or an error naming <paramref name="field"/> (no directory, or the name is taken).</summary>
    public (string? Path, ApiErrorReply? Error) ForWrite(string name, string field)
    {
        if (_directories.Count == 0)
            return (null, ApiErrorReply.Invalid(field, $"node {_nodeName} has no snapshot directories configured (Node:SnapshotDirectories)"));
        foreach (var d in _directories)
        {
            var existing = System.IO.Path.Join(d.Root, name);
            if (System.IO.Path.Exists(existing) || File.Exists(existing))
                return (null, ApiErrorReply.Invalid(field, $"snapshot '{name}' already exists on node {_nodeName} ({existing})"));
        }
        return (System.IO.Path.Join(_directories[0].Root, name), null);
    }

    /// <summary>
    /// The directory of snapshot <paramref name="name"/> and its manifest, checked to stay beneath its snapshot directory
    /// (its manifest and every file the manifest lists), or an error naming <paramref name="field"/>.
    /// </summary>
    public (string? Path, SnapshotManifest? Manifest, ApiErrorReply? Error) ForRead(string name, string field)
    {
        if (_directories.Count == 0)
            return (null, null, ApiErrorReply.Invalid(field, $"node {_nodeName} has no snapshot directories configured (Node:SnapshotDirectories)"));
        foreach (var d in _directories)
        {
            if (!Directory.Exists(System.IO.Path.Join(d.Root, name))) continue;
            SnapshotManifest manifest;
            try
            {
                using (var file = d.OpenFile($"{name}/{SnapshotFormat.ManifestFile}"))
                    manifest = SnapshotManifest.FromJson(System.Text.Encoding.UTF8.GetString(file.ReadAll(1 << 20)));
                foreach (var listed in manifest.Files?.Keys ?? Enumerable.Empty<string>())
                    d.OpenFile($"{name}/{listed}").Dispose();
            }
            catch (ConfinedPathException e)
            {
                return (null, null, ApiErrorReply.Invalid(field, e.Message));
            }
            catch (System.Text.Json.JsonException e)
            {
                return (null, null, ApiErrorReply.Invalid(field, $"snapshot file '{System.IO.Path.Join(d.Root, name, SnapshotFormat.ManifestFile)}': not a snapshot manifest: {e.Message}"));
            }
            return (System.IO.Path.Join(d.Root, name), manifest, null);
        }
        return (null, null, ApiErrorReply.Invalid(field, $"node {_nodeName} has no snapshot '{name}' (in {string.Join(", ", _directories.Select(x => x.Root))})"));
    }

    /// <summary>
    /// Deletes snapshot <paramref name="name"/> (a managed save the node took and no longer needs) from the directory that
    /// holds it; false if no directory holds it.
    /// </summary>
    /// <exception cref="IOException">it cannot be deleted.</exception>
    public bool Delete(string name)
    {
        foreach (var d in _directories)
        {
            var path = System.IO.Path.Join(d.Root, name);
            if (!Directory.Exists(path)) continue;
            Directory.Delete(path, recursive: true);
            return true;
        }
        return false;
    }

    /// <summary>
    /// Removes from every snapshot directory the partial snapshots no writer holds (what a node killed mid-snapshot or
    /// mid-managed-save left: written under a temporary name, never renamed); see <see cref="PartialSnapshotDirectories"/>.
    /// </summary>
    public IReadOnlyList<PartialSnapshotSweep> RemoveAbandonedPartials() => [.. _directories.Select(d => PartialSnapshotDirectories.RemoveAbandoned(d.Root))];

    /// <summary>Closes the directories.</summary>
    public void Dispose()
    {
        foreach (var d in _directories) d.Dispose();
    }
}
