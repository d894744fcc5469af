using System.Collections.Concurrent;
using Actorvisor.Hardware.Native;
using Actorvisor.Hardware.Vfio;

namespace Actorvisor.Hardware.Tests.Vfio;

/// <summary>
/// Test-only answers to the VFIO questions, for machines without VFIO devices: regular files created here stand
/// in for VFIO groups or device files, recognised by their inode (statx on the descriptor, as the real
/// classifier does), each with a DMA coherency the test sets and may change. Every other file gets the real
/// answers of <see cref="VfioFileInspector"/>, so /dev/null and ordinary files are still refused. Also used by
/// the actor tests (linked into Actorvisor.Actors.Tests).
/// </summary>
public sealed class StandInVfioFiles : IVfioFileInspector, IDisposable
{
    private readonly ConcurrentDictionary<(uint, uint, ulong), StandIn> _byInode = new();

    /// <summary>A fresh directory for the stand-in files.</summary>
    public StandInVfioFiles() => Directory = System.IO.Directory.CreateTempSubdirectory("actorvisor-vfio-").FullName;

    /// <summary>Where the stand-in files are.</summary>
    public string Directory { get; }

    /// <summary>Creates a stand-in VFIO group file called <paramref name="name"/>; returns its path.</summary>
    public string CreateGroup(string name, bool coherent = true) => Create(name, VfioFileKind.Group, coherent);

    /// <summary>Creates a stand-in VFIO device file called <paramref name="name"/>; returns its path.</summary>
    public string CreateDevice(string name, bool coherent = true) => Create(name, VfioFileKind.Device, coherent);

    /// <summary>Changes what the coherency probe answers for <paramref name="path"/> from now on.</summary>
    public void SetCoherent(string path, bool coherent) => _byInode[Key(FileStatus.OfPath(path))].Coherent = coherent;

    /// <summary>How many descriptors of this process refer to <paramref name="path"/> (read from /proc/self/fd).</summary>
    public static int OpenDescriptors(string path)
    {
        int n = 0;
        foreach (var link in System.IO.Directory.GetFiles("/proc/self/fd"))
        {
            try
            {
                if (new FileInfo(link).LinkTarget == path) n++;
            }
            catch (IOException) { } // closed while we looked
        }
        return n;
    }

    /// <inheritdoc />
    public VfioFileClassification Classify(FileDescriptor file) =>
        _byInode.TryGetValue(Key(FileStatus.Of(file)), out var s)
            ? new VfioFileClassification(s.Kind, $"stand-in VFIO {(s.Kind == VfioFileKind.Group ? "group" : "device")} {s.Path}")
            : VfioFileInspector.Instance.Classify(file);

    /// <inheritdoc />
    public DmaCoherency ProbeCoherency(FileDescriptor file, VfioFileKind kind) =>
        _byInode.TryGetValue(Key(FileStatus.Of(file)), out var s)
            ? new DmaCoherency(s.Coherent, true, $"set by the test for {s.Path}")
            : VfioFileInspector.Instance.ProbeCoherency(file, kind);

    /// <summary>Deletes the stand-in files.</summary>
    public void Dispose() => System.IO.Directory.Delete(Directory, recursive: true);

    private string Create(string name, VfioFileKind kind, bool coherent)
    {
        var path = Path.Combine(Directory, name);
        File.WriteAllBytes(path, []);
        _byInode[Key(FileStatus.OfPath(path))] = new StandIn(path, kind) { Coherent = coherent };
        return path;
    }

    private static (uint, uint, ulong) Key(FileStatus s) => (s.DeviceMajor, s.DeviceMinor, s.Inode);

    private sealed class StandIn(string path, VfioFileKind kind)
    {
        public string Path { get; } = path;
        public VfioFileKind Kind { get; } = kind;
        public volatile bool Coherent;
    }
}
