using Actorvisor.Host.Scenarios.Language;

namespace Actorvisor.Host.Scenarios.Parsing;

/// <summary>A problem in a scenario file, at a file, line and column.</summary>
/// <param name="Location">Where.</param>
/// <param name="Message">What is wrong, naming the field.</param>
public sealed record ScenarioError(SourceLocation Location, string Message)
{
    /// <summary>"file:line:column: error: message".</summary>
    public override string ToString() => $"{Location}: error: {Message}";
}
