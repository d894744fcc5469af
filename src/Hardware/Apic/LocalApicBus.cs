namespace Actorvisor.Hardware.Apic;

/// <summary>
/// The APIC bus of one VM: the local APICs of its vCPUs, which it routes fixed and lowest-priority IPIs between
/// (an ICR write on one APIC reaches the others through it), and which vCPU thread each APIC belongs to, so that
/// the one xAPIC MMIO page (<see cref="ApicMmioWindow"/>) reaches the APIC of the vCPU that accesses it.
/// </summary>
public sealed class LocalApicBus
{
    [ThreadStatic] private static LocalApic? t_current;
    private LocalApic[] _apics = [];
    private readonly object _gate = new();
    private long _undelivered;

    /// <summary>The APICs on the bus.</summary>
    public IReadOnlyList<LocalApic> Apics => Volatile.Read(ref _apics);

    /// <summary>IPIs whose destination matched no APIC.</summary>
    public long UndeliveredIpis => Interlocked.Read(ref _undelivered);

    /// <summary>The APIC bound to the calling thread (<see cref="BindCurrentThread"/>) if it is on this bus, else null.</summary>
    public LocalApic? CurrentThreadApic => t_current is { } apic && ReferenceEquals(apic.Bus, this) ? apic : null;

    /// <summary>
    /// Makes <paramref name="apic"/> the calling thread's APIC (a vCPU's run-loop thread calls it once as it starts),
    /// until the result is disposed.
    /// </summary>
    public IDisposable BindCurrentThread(LocalApic apic)
    {
        ArgumentNullException.ThrowIfNull(apic);
        if (!ReferenceEquals(apic.Bus, this)) throw new ArgumentException($"APIC {apic.Id} is not on this bus", nameof(apic));
        var previous = t_current;
        t_current = apic;
        return new Binding(previous);
    }

    internal void Add(LocalApic apic)
    {
        lock (_gate)
        {
            if (_apics.Any(a => a.Id == apic.Id)) throw new ArgumentException($"APIC ID {apic.Id} is already on the bus", nameof(apic));
            Volatile.Write(ref _apics, [.. _apics, apic]);
        }
    }

    /// <summary>
    /// Delivers an IPI from <paramref name="sender"/>: to the APICs the shorthand, or else the destination in
    /// physical (an APIC ID, 0xff for all) or flat logical mode (a bitmask over LDR), names. Lowest priority goes to
    /// the matching APIC with the lowest processor priority (ties: lowest ID).
    /// </summary>
    internal void Route(LocalApic sender, int vector, IpiShorthand shorthand, bool logical, int destination, bool lowestPriority)
    {
        var targets = Apics.Where(a => shorthand switch
        {
            IpiShorthand.Self => ReferenceEquals(a, sender),
            IpiShorthand.AllIncludingSelf => true,
            IpiShorthand.AllExcludingSelf => !ReferenceEquals(a, sender),
            _ => a.Matches(logical, destination),
        }).ToList();
        if (lowestPriority && targets.Count > 1)
            targets = [targets.OrderBy(a => a.ProcessorPriority).ThenBy(a => a.Id).First()];
        if (targets.Count == 0) Interlocked.Increment(ref _undelivered);
        foreach (var target in targets) target.RequestInterrupt(vector);
    }

    private sealed class Binding(LocalApic? previous) : IDisposable
    {
        public void Dispose() => t_current = previous;
    }
}
