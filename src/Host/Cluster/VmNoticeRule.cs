using Actorvisor.Host.Api.V1;

namespace Actorvisor.Host.Cluster;

/// <summary>
/// When a change of a VM's line is worth a <see cref="VmEventNotice"/>, and what the notice says: the one rule the node's
/// agent and the cluster's directory share. A VM's runtime reports an ending state (Stopped, Failed) before the outcome
/// that explains it, so the notice of an end waits for its outcome: subscribers hear "Failed: triple fault ...", once,
/// never a bare "Running -> Failed".
/// </summary>
public static class VmNoticeRule
{
    /// <summary>The detail of the notice due for <paramref name="now"/> after a line whose status was <paramref name="before"/>, or null if none is due.</summary>
    /// <param name="before">The status before the change (null: unknown, e.g. a node's first report).</param>
    /// <param name="now">The VM's line after it.</param>
    public static string? NoticeDetail(VmStatus? before, VmInfo now)
    {
        bool ended = now.Status is VmStatus.Stopped or VmStatus.Failed;
        if (ended && now.Outcome is null) return null; // its outcome follows: the notice goes with it
        if (before != now.Status) return now.Outcome ?? (before is { } b ? $"{b} -> {now.Status}" : $"now {now.Status}");
        // Same status: only an end whose outcome has just arrived (its status change was held back for it).
        return ended ? now.Outcome : null;
    }
}
