namespace Actorvisor.Hardware.Lazy;

/// <summary>What a backing store produced for one page.</summary>
public enum PageContent
{
    /// <summary>The buffer holds the page's bytes.</summary>
    Data,

    /// <summary>The page is all zeros; the buffer was not necessarily written. Install it with UFFDIO_ZEROPAGE.</summary>
    Zero,
}
