using Actorvisor.Hardware.Metrics;

namespace Actorvisor.Host.Web;

/// <summary>One VM's exit counters on this node in its current run, summed over its vCPUs (from <see cref="HardwareMeter.CurrentRuns"/>).</summary>
/// <param name="Vm">The VM's name.</param>
/// <param name="Vcpus">vCPUs counted.</param>
/// <param name="Exits">Every exit: port I/O, MMIO, HLT, kicks and others.</param>
/// <param name="PortIo">Port I/O exits.</param>
/// <param name="Mmio">MMIO exits.</param>
/// <param name="Hlt">HLT exits.</param>
/// <param name="GuestSeconds">Time inside the accelerator's run call.</param>
public sealed record VmCounters(string Vm, int Vcpus, long Exits, long PortIo, long Mmio, long Hlt, double GuestSeconds)
{
    /// <summary>The counters of every VM this process runs (or ran within <see cref="HardwareMeter.RetainEnded"/>: its last run), by name.</summary>
    public static IReadOnlyList<VmCounters> OfThisNode() => HardwareMeter.CurrentRuns()
        .GroupBy(c => c.Vm, StringComparer.Ordinal)
        .Select(g => new VmCounters(g.Key, g.Count(),
            g.Sum(c => c.Total),
            g.Sum(c => c.PortIo), g.Sum(c => c.Mmio), g.Sum(c => c.Hlt), g.Sum(c => c.GuestSeconds)))
        .OrderBy(c => c.Vm, StringComparer.Ordinal)
        .ToList();
}
