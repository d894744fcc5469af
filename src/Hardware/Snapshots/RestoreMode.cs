namespace Actorvisor.Hardware.Snapshots;

/// <summary>How a restored VM's memory comes back from the snapshot's memory file.</summary>
public enum RestoreMode
{
    /// <summary>Every written page is read into fresh memory before the VM runs (the memory file's checksum is checked on the way).</summary>
    Eager,
    /// <summary>userfaultfd over the memory file: the VM runs at once and each page is fetched on first touch (by the async-PF workers, with readahead).</summary>
    Lazy,
    /// <summary>A private copy-on-write mapping of the memory file: the kernel pages it in on first touch.</summary>
    Mmap,
}
