using Actorvisor.Host.Api.V1;

namespace Actorvisor.Samples.Orchestrator;

/// <summary>One VM of the fleet as the orchestrator follows it: its spec, where and how it last was, and its restarts.</summary>
internal sealed class FleetVm(ApiVmSpec spec)
{
    /// <summary>What it is created from (again on every restart).</summary>
    public ApiVmSpec Spec { get; } = spec;

    /// <summary>Its name.</summary>
    public string Name => Spec.Name;

    /// <summary>Its last known status (null before it was created).</summary>
    public VmStatus? Status { get; set; }

    /// <summary>The node it is on (as last reported).</summary>
    public string Node { get; set; } = "-";

    /// <summary>When it last became Running (for settling).</summary>
    public DateTimeOffset? RunningSince { get; set; }

    /// <summary>How often it was restarted.</summary>
    public int Restarts { get; set; }

    /// <summary>How often it was seen failing (or lost).</summary>
    public int Failures { get; set; }

    /// <summary>True while the orchestrator acts on it (creating or restarting): its events are not acted on.</summary>
    public bool Busy { get; set; }

    /// <summary>True once it failed more often than restarts are allowed.</summary>
    public bool GaveUp { get; set; }

    /// <summary>The outcome it last ended with.</summary>
    public string? LastFailure { get; set; }
}
