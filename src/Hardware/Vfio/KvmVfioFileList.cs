using Actorvisor.Hardware.Native;

namespace Actorvisor.Hardware.Vfio;

/// <summary>
/// The file list of a KVM-VFIO device (kvm_vfio->file_list) with the device's own reference to each file and the
/// non-coherent flag recomputed from all of them (kvm_vfio_update_coherency). Not thread-safe: its device
/// serialises calls.
/// </summary>
internal sealed class KvmVfioFileList : IDisposable
{
    private readonly IVfioFileInspector _inspector;
    private readonly List<Entry> _entries = [];

    public KvmVfioFileList(IVfioFileInspector inspector) => _inspector = inspector;

    public bool NonCoherentDma { get; private set; }

    public IReadOnlyList<KvmVfioFile> Files => _entries.Select(e => e.File).ToList();

    /// <summary>Whether the open file <paramref name="file"/> refers to is in the list.</summary>
    public bool Contains(FileDescriptor file) => IndexOf(file) >= 0;

    /// <summary>Adds the device's own reference <paramref name="held"/>; the list owns it from now on.</summary>
    public void Add(FileDescriptor held, string name, VfioFileClassification classification)
    {
        _entries.Add(new Entry(held, new KvmVfioFile(name, classification, DmaCoherency.AssumedNonCoherent("not probed yet"))));
        UpdateCoherency();
    }

    /// <summary>Drops the entry for the file <paramref name="file"/> refers to; false if there is none.</summary>
    public bool Remove(FileDescriptor file)
    {
        int i = IndexOf(file);
        if (i < 0) return false;
        _entries[i].Held.Dispose();
        _entries.RemoveAt(i);
        UpdateCoherency();
        return true;
    }

    /// <summary>Releases every file (kvm_vfio_release): the device's references are dropped.</summary>
    public void Dispose()
    {
        foreach (var e in _entries) e.Held.Dispose();
        _entries.Clear();
        UpdateCoherency();
    }

    // kvm_vfio_update_coherency: every file is asked again on every change, so a file whose answer changed
    // (its group moved to another container) is seen at the next change.
    private void UpdateCoherency()
    {
        bool nonCoherent = false;
        for (int i = 0; i < _entries.Count; i++)
        {
            var e = _entries[i];
            var coherency = _inspector.ProbeCoherency(e.Held, e.File.Classification.Kind);
            _entries[i] = e with { File = e.File with { Coherency = coherency } };
            nonCoherent |= !coherency.EnforcedCoherent;
        }
        NonCoherentDma = nonCoherent;
    }

    private int IndexOf(FileDescriptor file) => _entries.FindIndex(e => OpenFileDescription.AreSame(e.Held, file));

    private sealed record Entry(FileDescriptor Held, KvmVfioFile File);
}
