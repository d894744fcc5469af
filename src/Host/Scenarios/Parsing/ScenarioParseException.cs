namespace Actorvisor.Host.Scenarios.Parsing;

/// <summary>A scenario file could not be read: every problem found, each with its location.</summary>
public sealed class ScenarioParseException : Exception
{
    /// <summary>Wraps <paramref name="errors"/> (at least one).</summary>
    public ScenarioParseException(IReadOnlyList<ScenarioError> errors)
        : base(string.Join(Environment.NewLine, errors))
    {
        if (errors.Count == 0) throw new ArgumentException("at least one error is required", nameof(errors));
        Errors = errors;
    }

    /// <summary>The problems, in the order of the file.</summary>
    public IReadOnlyList<ScenarioError> Errors { get; }
}
