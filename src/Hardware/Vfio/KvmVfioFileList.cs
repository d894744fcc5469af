using Actorvisor.Hardware.Native;

namespace Actorvisor.Hardware.Vfio;

/// <summary>
/// The file list of a KVM-VFIO device (kvm_vfio->file_list) with the device's own reference to each file and the
/// non-coherent flag recomputed from all of them (kvm_vfio_update_coherency). Changes are not thread-safe: its
/// device serialises them. <see cref="Files"/> and <see cref="NonCoherentDma"/> may be read from any thread: they
/// come from a snapshot published after each change.
/// </summary>
internal sealed class KvmVfioFileList : IDisposable
{
    private readonly IVfioFileInspector _inspector;
    private readonly List<Entry> _entries = [];
    private volatile Snapshot _published = new([], false);

    public KvmVfioFileList(IVfioFileInspector inspector) => _inspector = inspector;

    /// <summary>Whether any attached file's DMA is not enforced coherent, as of the last change.</summary>
    public bool NonCoherentDma => _published.NonCoherentDma;

    /// <summary>The attached files, as of the last change.</summary>
    public IReadOnlyList<KvmVfioFile> Files => _published.Files;

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
        _published = new Snapshot([.. _entries.Select(e => e.File)], nonCoherent);
    }

    private int IndexOf(FileDescriptor file) => _entries.FindIndex(e => OpenFileDescription.AreSame(e.Held, file));

    private sealed record Entry(FileDescriptor Held, KvmVfioFile File);

    private sealed record Snapshot(IReadOnlyList<KvmVfioFile> Files, bool NonCoherentDma);
}
