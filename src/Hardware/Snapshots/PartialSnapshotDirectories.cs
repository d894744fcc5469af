using System.Text.RegularExpressions;
using Actorvisor.Hardware.Native;
using static Tmds.Linux.LibC;

namespace Actorvisor.Hardware.Snapshots;

/// <summary>
/// The temporary directories <see cref="SnapshotWriter"/> writes a snapshot into before renaming it to its name
/// (NAME<see cref="SnapshotFormat.PartialSuffix"/>XXXXXXXX). The writer holds an exclusive flock(2) on the directory while
/// it writes (<see cref="Hold"/>), which the kernel drops when the writer's process dies, so one that nobody holds is what
/// a crash left behind (kill -9 or a host reboot mid-snapshot), never a snapshot: <see cref="RemoveAbandoned"/> deletes
/// those and leaves alone the ones another process is still writing (a snapshot directory shared between nodes).
/// </summary>
public static partial class PartialSnapshotDirectories
{
    /// <summary>True if <paramref name="name"/> (a directory entry's name) is a partial snapshot's temporary name.</summary>
    public static bool IsPartialName(string name) => PartialName().IsMatch(name);

    /// <summary>Locks the partial directory <paramref name="path"/> for its writer; the lock lasts until the result is disposed.</summary>
    /// <exception cref="SyscallException">the directory cannot be opened.</exception>
    /// <exception cref="IOException">another process holds it.</exception>
    public static FileDescriptor Hold(string path)
    {
        var fd = Sys.Open(path, O_RDONLY | O_DIRECTORY);
        if (Sys.TryLockExclusive(fd)) return fd;
        fd.Dispose();
        throw new IOException($"{path} is being written by another process");
    }

    /// <summary>
    /// Deletes the partial snapshot directories in <paramref name="directory"/> that no writer holds; says which it removed,
    /// which it left because a writer holds them, and which it could not remove (with why).
    /// </summary>
    public static PartialSnapshotSweep RemoveAbandoned(string directory)
    {
        var removed = new List<string>();
        var inUse = new List<string>();
        var failed = new List<string>();
        if (!Directory.Exists(directory)) return new PartialSnapshotSweep(removed, inUse, failed);
        foreach (var path in Directory.EnumerateDirectories(directory).Where(p => IsPartialName(Path.GetFileName(p))).Order(StringComparer.Ordinal))
        {
            try
            {
                using var fd = Sys.Open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
                if (!Sys.TryLockExclusive(fd))
                {
                    inUse.Add(path);
                    continue;
                }
                Directory.Delete(path, recursive: true);
                removed.Add(path);
            }
            catch (Exception e) when (e is SyscallException or IOException or UnauthorizedAccessException)
            {
                failed.Add($"{path}: {e.Message}");
            }
        }
        return new PartialSnapshotSweep(removed, inUse, failed);
    }

    [GeneratedRegex(@"^.+\.partial-[0-9a-f]{8}$", RegexOptions.CultureInvariant)]
    private static partial Regex PartialName();
}
