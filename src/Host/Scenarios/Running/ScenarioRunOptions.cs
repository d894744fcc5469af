using Actorvisor.Hardware.Accel;

namespace Actorvisor.Host.Scenarios.Running;

/// <summary>Settings of a run that are not part of the scenario file.</summary>
public sealed record ScenarioRunOptions
{
    /// <summary>When set, every VM uses this accelerator instead of the one its declaration names.</summary>
    public AcceleratorPreference? AcceleratorOverride { get; init; }

    /// <summary>How long tearing the nodes (and every VM left on them) down may take.</summary>
    public TimeSpan TeardownTimeout { get; init; } = TimeSpan.FromSeconds(60);
}
