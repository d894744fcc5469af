using Actorvisor.Hardware.Lazy;

namespace Actorvisor.Actors.AsyncPf;

/// <summary>How fetching one page from the backing store and installing it ended.</summary>
internal enum FetchResult
{
    /// <summary>Installed now (UFFDIO_COPY or UFFDIO_ZEROPAGE): "page ready".</summary>
    Installed,
    /// <summary>Someone else installed it first: the page is present all the same.</summary>
    AlreadyPresent,
    /// <summary>The region is being torn down: nothing was written.</summary>
    RegionClosed,
    /// <summary>Cancelled by a flush before anything was written.</summary>
    Cancelled,
    /// <summary>Every read failed (or an unexpected error); nothing was written.</summary>
    Failed,
}

/// <summary>The result of one fetch, with the error of a failed one.</summary>
internal sealed record FetchOutcome(FetchResult Result, Exception? Error = null)
{
    public static readonly FetchOutcome Installed = new(FetchResult.Installed);
    public static readonly FetchOutcome AlreadyPresent = new(FetchResult.AlreadyPresent);
    public static readonly FetchOutcome RegionClosed = new(FetchResult.RegionClosed);
    public static readonly FetchOutcome Cancelled = new(FetchResult.Cancelled);

    /// <summary>True if the page is present now.</summary>
    public bool IsPresent => Result is FetchResult.Installed or FetchResult.AlreadyPresent;

    public static FetchOutcome From(PageInstall install) => install switch
    {
        PageInstall.Installed => Installed,
        PageInstall.AlreadyPresent => AlreadyPresent,
        _ => RegionClosed,
    };
}
