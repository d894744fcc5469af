namespace Actorvisor.Hardware.Mmu;

/// <summary>
/// One thread's fault counters for one <see cref="SoftMmu"/>. Only that thread writes them (plain increments:
/// no atomic instruction and no shared cache line on the fault paths, which vCPUs run concurrently); readers
/// sum every thread's counts. They stay registered after the thread ends, so no event is forgotten.
/// </summary>
internal sealed class FaultCounts
{
    public long FastFixes;
    public long SlowFaults;
    public long Spurious;

    // Keyed by the MMU's registry, not the MMU: a thread's cache must not keep a disposed VM's SPTE tables alive.
    [ThreadStatic] private static Dictionary<int, FaultCounts>? t_owner;
    [ThreadStatic] private static FaultCounts? t_counts;

    /// <summary>The calling thread's counts in the registry <paramref name="all"/> (one per MMU), registering them on first use.</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    public static FaultCounts For(Dictionary<int, FaultCounts> all) =>
        ReferenceEquals(t_owner, all) ? t_counts! : Register(all);

    private static FaultCounts Register(Dictionary<int, FaultCounts> all)
    {
        FaultCounts counts;
        lock (all)
        {
            // A thread id is only reused after its thread ended, so the counts are never written by two threads at once.
            if (!all.TryGetValue(Environment.CurrentManagedThreadId, out counts!))
                all.Add(Environment.CurrentManagedThreadId, counts = new FaultCounts());
        }
        t_owner = all;
        t_counts = counts;
        return counts;
    }

    /// <summary>The sums over every thread's counts.</summary>
    public static (long FastFixes, long SlowFaults, long Spurious) Sum(Dictionary<int, FaultCounts> all)
    {
        long fast = 0, slow = 0, spurious = 0;
        lock (all)
        {
            foreach (var c in all.Values)
            {
                fast += Volatile.Read(ref c.FastFixes);
                slow += Volatile.Read(ref c.SlowFaults);
                spurious += Volatile.Read(ref c.Spurious);
            }
        }
        return (fast, slow, spurious);
    }
}
