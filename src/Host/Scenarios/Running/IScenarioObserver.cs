using Actorvisor.Host.Scenarios.Language;

namespace Actorvisor.Host.Scenarios.Running;

/// <summary>
/// Follows a run as it happens (the live progress display). Calls may come from several threads at once
/// (parallel steps, VM events); implementations must be thread-safe.
/// </summary>
public interface IScenarioObserver
{
    /// <summary>The scenario is about to start its nodes.</summary>
    void ScenarioStarted(Scenario scenario);

    /// <summary>A step (at <paramref name="path"/>) starts.</summary>
    void StepStarted(Scenario scenario, string path, Step step);

    /// <summary>A step has ended.</summary>
    void StepFinished(Scenario scenario, StepResult result);

    /// <summary>Something worth a line: which accelerator a VM got, teardown progress.</summary>
    void Note(Scenario scenario, string text);

    /// <summary>The scenario has ended and its nodes are down.</summary>
    void ScenarioFinished(ScenarioResult result);
}

/// <summary>An observer that ignores everything.</summary>
public sealed class NullScenarioObserver : IScenarioObserver
{
    /// <summary>The one instance.</summary>
    public static readonly NullScenarioObserver Instance = new();

    /// <inheritdoc />
    public void ScenarioStarted(Scenario scenario) { }

    /// <inheritdoc />
    public void StepStarted(Scenario scenario, string path, Step step) { }

    /// <inheritdoc />
    public void StepFinished(Scenario scenario, StepResult result) { }

    /// <inheritdoc />
    public void Note(Scenario scenario, string text) { }

    /// <inheritdoc />
    public void ScenarioFinished(ScenarioResult result) { }
}
