namespace Actorvisor.Actors.AsyncPf;

/// <summary>
/// Tuning of one VM's async page-fault machinery (virt/kvm/async_pf.c): how many faults each vCPU may have
/// outstanding, and how far a fault reads ahead into the following pages of its memslot.
/// </summary>
public sealed record AsyncPfOptions
{
    /// <summary>async_pf.c's ASYNC_PF_PER_VCPU.</summary>
    public const int DefaultPerVcpuLimit = 64;

    /// <summary>
    /// 32 pages (128 KiB), Linux's default read_ahead_kb: a blocked vCPU has one fault of its own at a time,
    /// so readahead is what keeps several reads of a sequential scan in flight.
    /// </summary>
    public const int DefaultReadaheadPages = 32;

    /// <summary>The largest accepted <see cref="PerVcpuLimit"/>.</summary>
    public const int MaxPerVcpuLimit = 4096;

    /// <summary>The options every VM gets unless told otherwise.</summary>
    public static AsyncPfOptions Default { get; } = new();

    /// <summary>No workers at all: every fault is resolved synchronously (the baseline of the benchmark).</summary>
    public static AsyncPfOptions SynchronousOnly { get; } = new() { PerVcpuLimit = 0, ReadaheadPages = 0 };

    /// <summary>
    /// ASYNC_PF_PER_VCPU: the most outstanding faults (worker actors, readahead included, plus completions the
    /// vCPU side has not consumed yet) per vCPU. A fault beyond it is resolved synchronously. 0 turns the
    /// workers off.
    /// </summary>
    public int PerVcpuLimit { get; init; } = DefaultPerVcpuLimit;

    /// <summary>Pages after a faulting page (same memslot) fetched ahead by readahead workers; 0 for none.</summary>
    public int ReadaheadPages { get; init; } = DefaultReadaheadPages;

    /// <summary>Reads of one page from the store before the fault is reported as failed.</summary>
    public int ReadAttempts { get; init; } = 3;

    /// <summary>Checks every field.</summary>
    /// <exception cref="ArgumentOutOfRangeException">a field is out of range; the exception names it.</exception>
    public void Validate()
    {
        if (PerVcpuLimit is < 0 or > MaxPerVcpuLimit)
            throw new ArgumentOutOfRangeException(nameof(PerVcpuLimit), PerVcpuLimit, $"AsyncPfOptions.PerVcpuLimit must be 0..{MaxPerVcpuLimit}");
        if (ReadaheadPages < 0)
            throw new ArgumentOutOfRangeException(nameof(ReadaheadPages), ReadaheadPages, "AsyncPfOptions.ReadaheadPages must not be negative");
        if (ReadAttempts < 1)
            throw new ArgumentOutOfRangeException(nameof(ReadAttempts), ReadAttempts, "AsyncPfOptions.ReadAttempts must be at least 1");
    }
}
