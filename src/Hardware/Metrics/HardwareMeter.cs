using System.Diagnostics.Metrics;
using Actorvisor.Hardware.Machines;
using Actorvisor.Hardware.Mmu;

namespace Actorvisor.Hardware.Metrics;

/// <summary>
/// The hardware layer's metrics: owns the <c>Actorvisor.Hardware</c> <see cref="Meter"/> and the registry of
/// live per-vCPU exit counters and software MMUs its observable instruments read. Nothing is added to a hot
/// path beyond the counters those objects already keep: the instruments' callbacks read them when a metrics
/// listener collects (a Prometheus scrape), and not at all when nobody listens.
/// </summary>
public static class HardwareMeter
{
    /// <summary>The meter's name, for listeners and exporters.</summary>
    public const string Name = "Actorvisor.Hardware";

    private static readonly Meter s_meter = new(Name);
    private static readonly Counter<long> s_memslotChanges = s_meter.CreateCounter<long>("actorvisor.memslot.changes", "{change}",
        "memslots set (created or replaced) and deleted on this node's VMs, by op (set, delete)");
    private static readonly KeyValuePair<string, object?> s_memslotSet = new("op", "set");
    private static readonly KeyValuePair<string, object?> s_memslotDelete = new("op", "delete");
    private static readonly object s_gate = new();
    private static readonly HashSet<VcpuExitCounters> s_vcpus = [];
    // Counters of vCPUs that ended, with when: still exported for RetainEnded, so a scrape sees a short-lived VM's final counts.
    private static readonly List<(VcpuExitCounters Counters, long EndedAt)> s_ended = [];
    private static readonly HashSet<SoftMmu> s_mmus = [];
    private static readonly HashSet<MachineVirtioDevices> s_virtio = [];
    // Virtio device sets of machines that ended, with when: exported for RetainEnded like the vCPU counters.
    private static readonly List<(MachineVirtioDevices Devices, long EndedAt)> s_endedVirtio = [];
    // The counts of MMUs already disposed, so the node-wide MMU counters never go down.
    private static MmuCounters s_retiredMmus;
    private static long s_runs;

    static HardwareMeter()
    {
        s_meter.CreateObservableCounter("actorvisor.vcpu.exits", ObserveExits, "{exit}",
            "vCPU exits by VM, vCPU and kind (port_io, mmio, hlt, interrupted, other)");
        s_meter.CreateObservableCounter("actorvisor.vcpu.guest_time", ObserveGuestTime, "s",
            "time each vCPU spent inside the accelerator's run call (guest plus exits handled inline)");
        s_meter.CreateObservableCounter("actorvisor.virtio.notify_exits", ObserveVirtioNotifyExits, "{exit}",
            "virtio queue notifications that reached a vCPU thread as an MMIO exit, by VM and device (0 on KVM, where an ioeventfd takes them)");
        s_meter.CreateObservableCounter("actorvisor.mmu.faults", ObserveMmuFaults, "{fault}",
            "software MMU faults on this node by path (fast, slow, spurious, mmio, not_permitted, retry)");
        s_meter.CreateObservableCounter("actorvisor.mmu.dirty_log_harvests", () => Mmus().DirtyLogHarvests, "{harvest}",
            "dirty-log harvests of software MMUs on this node");
        s_meter.CreateObservableCounter("actorvisor.mmu.zapped_sptes", () => Mmus().ZappedSptes, "{spte}",
            "shadow page-table entries zapped by software MMUs on this node");
        s_meter.CreateObservableCounter("actorvisor.mmu.tlb_flushes", () => Mmus().TlbFlushes, "{flush}",
            "TLB flushes requested by software MMUs on this node");
    }

    /// <summary>
    /// How long the counters of a vCPU stay exported after it ended (its VM stopped or was destroyed): long
    /// enough for a few scrapes at the usual 15-60 s intervals to see a short-lived VM's final counts.
    /// </summary>
    public static TimeSpan RetainEnded { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>The vCPU counters exported now: those of running vCPUs and of vCPUs that ended within <see cref="RetainEnded"/>.</summary>
    public static IReadOnlyList<VcpuExitCounters> ExportedVcpus
    {
        get
        {
            lock (s_gate)
            {
                long now = Environment.TickCount64;
                s_ended.RemoveAll(e => now - e.EndedAt > (long)RetainEnded.TotalMilliseconds);
                return [.. s_vcpus, .. s_ended.Select(e => e.Counters)];
            }
        }
    }

    /// <summary>
    /// The counters of each VM's current run only: of the VM's exported counters, those of its latest
    /// <see cref="VcpuExitCounters.Run"/> (a VM that ended: its last run, while it is retained). What a VM's exit count
    /// means in the API and the web view; /metrics exports every run (<see cref="ExportedVcpus"/>).
    /// </summary>
    public static IReadOnlyList<VcpuExitCounters> CurrentRuns()
    {
        var exported = ExportedVcpus;
        var latest = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var c in exported)
            if (!latest.TryGetValue(c.Vm, out var run) || c.Run > run) latest[c.Vm] = c.Run;
        return [.. exported.Where(c => latest[c.Vm] == c.Run)];
    }

    /// <summary>A new run's identity for <see cref="VcpuExitCounters"/>: larger than every one handed out before in this process.</summary>
    public static long NewRun() => Interlocked.Increment(ref s_runs);

    internal static void Register(VcpuExitCounters counters)
    {
        lock (s_gate) s_vcpus.Add(counters);
    }

    internal static void Unregister(VcpuExitCounters counters)
    {
        lock (s_gate)
        {
            if (s_vcpus.Remove(counters)) s_ended.Add((counters, Environment.TickCount64));
        }
    }

    /// <summary>Exports the notify exits of <paramref name="devices"/> under their <see cref="MachineVirtioDevices.MeteredAs"/> name until <see cref="Unregister(MachineVirtioDevices)"/> (and <see cref="RetainEnded"/> after).</summary>
    public static void Register(MachineVirtioDevices devices)
    {
        lock (s_gate) s_virtio.Add(devices);
    }

    /// <summary>The machine of <paramref name="devices"/> ended: its final counts stay exported for <see cref="RetainEnded"/>.</summary>
    public static void Unregister(MachineVirtioDevices devices)
    {
        lock (s_gate)
        {
            if (s_virtio.Remove(devices)) s_endedVirtio.Add((devices, Environment.TickCount64));
        }
    }

    /// <summary>The virtio device sets exported now: those of running machines and of machines that ended within <see cref="RetainEnded"/>.</summary>
    public static IReadOnlyList<MachineVirtioDevices> ExportedVirtioDevices
    {
        get
        {
            lock (s_gate)
            {
                long now = Environment.TickCount64;
                s_endedVirtio.RemoveAll(e => now - e.EndedAt > (long)RetainEnded.TotalMilliseconds);
                return [.. s_virtio, .. s_endedVirtio.Select(e => e.Devices)];
            }
        }
    }

    /// <summary>Counts one memslot set (created or replaced) on a VM of this node, or deleted when <paramref name="deleted"/>.</summary>
    public static void MemslotChanged(bool deleted) => s_memslotChanges.Add(1, deleted ? s_memslotDelete : s_memslotSet);

    /// <summary>Adds <paramref name="mmu"/> to the node-wide MMU counters until <see cref="Unregister(SoftMmu)"/>.</summary>
    public static void Register(SoftMmu mmu)
    {
        lock (s_gate) s_mmus.Add(mmu);
    }

    /// <summary>Keeps the final counts of <paramref name="mmu"/> in the node-wide totals and stops reading it.</summary>
    public static void Unregister(SoftMmu mmu)
    {
        lock (s_gate)
        {
            if (s_mmus.Remove(mmu)) s_retiredMmus = Add(s_retiredMmus, mmu.Counters);
        }
    }

    /// <summary>The node-wide MMU counters: every live MMU plus the ones already disposed.</summary>
    public static MmuCounters Mmus()
    {
        lock (s_gate)
        {
            var sum = s_retiredMmus;
            foreach (var mmu in s_mmus) sum = Add(sum, mmu.Counters);
            return sum;
        }
    }

    private static MmuCounters Add(MmuCounters a, MmuCounters b) => new(
        a.FastPathFixes + b.FastPathFixes, a.SlowPathFaults + b.SlowPathFaults, a.SpuriousFaults + b.SpuriousFaults,
        a.MmioFaults + b.MmioFaults, a.NotPermittedFaults + b.NotPermittedFaults, a.TlbFlushes + b.TlbFlushes,
        a.ZappedSptes + b.ZappedSptes, a.DirtyLogHarvests + b.DirtyLogHarvests, a.AgedPages + b.AgedPages,
        a.WholeSlotInstalls + b.WholeSlotInstalls, a.FaultRetries + b.FaultRetries);

    private static IEnumerable<Measurement<long>> ObserveExits()
    {
        var list = new List<Measurement<long>>();
        foreach (var c in ExportedVcpus)
        {
            var vm = new KeyValuePair<string, object?>("vm", c.Vm);
            var vcpu = new KeyValuePair<string, object?>("vcpu", c.Vcpu);
            list.Add(new(c.PortIo, vm, vcpu, new("kind", "port_io")));
            list.Add(new(c.Mmio, vm, vcpu, new("kind", "mmio")));
            list.Add(new(c.Hlt, vm, vcpu, new("kind", "hlt")));
            list.Add(new(c.Interrupted, vm, vcpu, new("kind", "interrupted")));
            list.Add(new(c.Other, vm, vcpu, new("kind", "other")));
        }
        return list;
    }

    private static IEnumerable<Measurement<long>> ObserveVirtioNotifyExits() =>
        ExportedVirtioDevices.SelectMany(d => d.Transports.Select(t =>
            new Measurement<long>(t.NotifyExits, new("vm", d.MeteredAs), new("device", t.Name)))).ToList();

    private static IEnumerable<Measurement<double>> ObserveGuestTime() =>
        ExportedVcpus.Select(c => new Measurement<double>(c.GuestSeconds, new("vm", c.Vm), new("vcpu", c.Vcpu))).ToList();

    private static IEnumerable<Measurement<long>> ObserveMmuFaults()
    {
        var m = Mmus();
        return
        [
            new(m.FastPathFixes, new KeyValuePair<string, object?>("path", "fast")),
            new(m.SlowPathFaults, new KeyValuePair<string, object?>("path", "slow")),
            new(m.SpuriousFaults, new KeyValuePair<string, object?>("path", "spurious")),
            new(m.MmioFaults, new KeyValuePair<string, object?>("path", "mmio")),
            new(m.NotPermittedFaults, new KeyValuePair<string, object?>("path", "not_permitted")),
            new(m.FaultRetries, new KeyValuePair<string, object?>("path", "retry")),
        ];
    }
}
