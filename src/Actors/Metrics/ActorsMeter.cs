using System.Diagnostics.Metrics;
using Actorvisor.Actors.AsyncPf;
using Actorvisor.Actors.Vm;

namespace Actorvisor.Actors.Metrics;

/// <summary>
/// The actor layer's metrics: owns the <c>Actorvisor.Actors</c> <see cref="Meter"/>: VM lifecycle transitions by
/// the state entered (a counter added to by each VmActor, off every hot path) and how long VMs stayed in each state
/// (a histogram recorded when they leave it), how long each page of a lazy-memory fill took to fetch and install
/// (a histogram), and the async page-fault counters
/// of the node's VMs (observable instruments reading the live routers' counters, plus the final counts of those
/// already disposed so the totals never go down).
/// </summary>
public static class ActorsMeter
{
    /// <summary>The meter's name, for listeners and exporters.</summary>
    public const string Name = "Actorvisor.Actors";

    private static readonly Meter s_meter = new(Name);
    private static readonly Counter<long> s_transitions = s_meter.CreateCounter<long>("actorvisor.vm.transitions", "{transition}",
        "VM lifecycle transitions on this node by the state entered");
    private static readonly Histogram<double> s_stateDuration = s_meter.CreateHistogram("actorvisor.vm.state.duration", "s",
        "time VMs on this node spent in a lifecycle state, recorded when they leave it, by that state", tags: null,
        new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.001, 0.01, 0.1, 1, 10, 60, 600, 3600, 86400] });
    private static readonly Histogram<double> s_pageFill = s_meter.CreateHistogram("actorvisor.lazy.page_fill.duration", "s",
        "time a lazy-memory fill took to fetch one page from its store and install it", tags: null,
        new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.000001, 0.000005, 0.00001, 0.00005, 0.0001, 0.0005, 0.001, 0.01, 0.1, 1] });
    private static readonly KeyValuePair<string, object?>[] s_stateTags = Enum.GetValues<VmState>()
        .Select(s => new KeyValuePair<string, object?>("state", s.ToString().ToLowerInvariant())).ToArray();
    private static readonly object s_gate = new();
    private static readonly HashSet<AsyncPfRouter> s_routers = [];
    private static AsyncPfTotals s_retired;

    static ActorsMeter()
    {
        s_meter.CreateObservableCounter("actorvisor.asyncpf.events", ObserveAsyncPf, "{event}",
            "async page-fault events on this node by kind (fault, not_present, sync_fallback, ready, joined, readahead, failed, guest_not_present, guest_ready)");
        s_meter.CreateObservableCounter("actorvisor.lazy.pages_filled", () => AsyncPf().Filled, "{page}",
            "lazy-memory pages filled on this node");
        s_meter.CreateObservableGauge("actorvisor.asyncpf.workers", () => AsyncPf().Workers, "{worker}",
            "async page-fault workers running on this node");
    }

    /// <summary>Counts a VM entering <paramref name="state"/>.</summary>
    public static void Transition(VmState state) => s_transitions.Add(1, s_stateTags[(int)state]);

    /// <summary>Records that a VM left <paramref name="state"/> after <paramref name="time"/> in it.</summary>
    public static void Left(VmState state, TimeSpan time) => s_stateDuration.Record(time.TotalSeconds, s_stateTags[(int)state]);

    /// <summary>Records one page of a lazy-memory fill fetched and installed in <paramref name="seconds"/>.</summary>
    internal static void PageFilled(double seconds) => s_pageFill.Record(seconds);

    internal static void Register(AsyncPfRouter router)
    {
        lock (s_gate) s_routers.Add(router);
    }

    internal static void Unregister(AsyncPfRouter router)
    {
        lock (s_gate)
        {
            if (s_routers.Remove(router)) s_retired = s_retired.Plus(Totals(router)) with { Workers = s_retired.Workers };
        }
    }

    private static AsyncPfTotals AsyncPf()
    {
        lock (s_gate)
        {
            var sum = s_retired;
            foreach (var router in s_routers) sum = sum.Plus(Totals(router));
            return sum;
        }
    }

    private static AsyncPfTotals Totals(AsyncPfRouter router)
    {
        var report = router.Report("");
        var t = new AsyncPfTotals { Filled = report.FilledPages };
        foreach (var v in report.Vcpus)
            t = t.Plus(new AsyncPfTotals(v.Faults, v.Async, v.SyncFallbacks, v.Wakeups, v.Joined, v.Readahead, v.Failed, 0, v.LiveWorkers, v.GuestFaults, v.GuestReady));
        return t;
    }

    private static IEnumerable<Measurement<long>> ObserveAsyncPf()
    {
        var t = AsyncPf();
        return
        [
            new(t.Faults, new KeyValuePair<string, object?>("kind", "fault")),
            new(t.NotPresent, new KeyValuePair<string, object?>("kind", "not_present")),
            new(t.SyncFallback, new KeyValuePair<string, object?>("kind", "sync_fallback")),
            new(t.Ready, new KeyValuePair<string, object?>("kind", "ready")),
            new(t.Joined, new KeyValuePair<string, object?>("kind", "joined")),
            new(t.Readahead, new KeyValuePair<string, object?>("kind", "readahead")),
            new(t.Failed, new KeyValuePair<string, object?>("kind", "failed")),
            new(t.GuestNotPresent, new KeyValuePair<string, object?>("kind", "guest_not_present")),
            new(t.GuestReady, new KeyValuePair<string, object?>("kind", "guest_ready")),
        ];
    }

    private readonly record struct AsyncPfTotals(
        long Faults, long NotPresent, long SyncFallback, long Ready, long Joined, long Readahead, long Failed, long Filled, long Workers,
        long GuestNotPresent = 0, long GuestReady = 0)
    {
        public AsyncPfTotals Plus(AsyncPfTotals o) => new(Faults + o.Faults, NotPresent + o.NotPresent, SyncFallback + o.SyncFallback,
            Ready + o.Ready, Joined + o.Joined, Readahead + o.Readahead, Failed + o.Failed, Filled + o.Filled, Workers + o.Workers,
            GuestNotPresent + o.GuestNotPresent, GuestReady + o.GuestReady);
    }
}
