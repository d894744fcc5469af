namespace Actorvisor.Host.Scenarios.Language;

/// <summary>One step of a scenario. Every step may set its own <see cref="Timeout"/>.</summary>
/// <param name="Location">Where the step was written (its keyword).</param>
public abstract record Step(SourceLocation Location)
{
    /// <summary>This step's limit; null means the scenario's step-timeout (steps that contain steps default to none).</summary>
    public TimeSpan? Timeout { get; init; }

    /// <summary>The keyword that introduces the step in YAML, e.g. "wait-for-serial".</summary>
    public abstract string Keyword { get; }

    /// <summary>A one-line description for progress displays and reports, e.g. "start web".</summary>
    public abstract string Describe();

    /// <inheritdoc />
    public override string ToString() => Describe();
}
