namespace Actorvisor.Hardware.Lazy;

/// <summary>The outcome of installing a page into lazy memory (UFFDIO_COPY or UFFDIO_ZEROPAGE).</summary>
public enum PageInstall
{
    /// <summary>The page was missing and is now present; threads waiting on it were woken.</summary>
    Installed,

    /// <summary>
    /// The page was already present (the kernel answered EEXIST): another installer won the race. A normal
    /// outcome, not an error; the caller's data was not written.
    /// </summary>
    AlreadyPresent,

    /// <summary>The region is being torn down or is gone; nothing was written.</summary>
    RegionClosed,
}
