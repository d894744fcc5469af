namespace Actorvisor.Hardware.Memory;

/// <summary>How guest RAM is backed on the host.</summary>
public enum HostMemoryBacking
{
    /// <summary>Private anonymous mapping (MAP_PRIVATE|MAP_ANONYMOUS|MAP_NORESERVE): the default.</summary>
    Anonymous,
    /// <summary>A shared mapping of a memfd, so that another process (or a snapshot) can map the same pages.</summary>
    Memfd,
    /// <summary>A private copy-on-write mapping of a file (MAP_PRIVATE): pages are read from the file on first touch, writes stay in memory.</summary>
    PrivateFile,
}
