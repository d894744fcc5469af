namespace Actorvisor.Host.Web;

/// <summary>The counters event of the SSE stream: when, and every VM's counters on this node.</summary>
/// <param name="Node">The node that counted.</param>
/// <param name="At">When (UTC).</param>
/// <param name="Vms">Each VM's counters.</param>
public sealed record CountersSnapshot(string Node, DateTimeOffset At, IReadOnlyList<VmCounters> Vms);
