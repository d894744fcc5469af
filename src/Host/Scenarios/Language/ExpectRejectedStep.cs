namespace Actorvisor.Host.Scenarios.Language;

/// <summary>
/// <c>expect-rejected</c>: reading scenario file <see cref="File"/> fails with an error containing
/// <see cref="ErrorContains"/> (at <see cref="Line"/> and <see cref="Column"/> when given). Nothing of it runs.
/// </summary>
/// <param name="Location">Where it was written.</param>
/// <param name="File">The malformed file, relative to the scenario's own folder.</param>
/// <param name="ErrorContains">Text one of the reported errors must contain.</param>
/// <param name="Line">The line that error must be reported at.</param>
/// <param name="Column">The column that error must be reported at.</param>
public sealed record ExpectRejectedStep(SourceLocation Location, string File, string ErrorContains, int? Line, int? Column) : Step(Location)
{
    /// <inheritdoc />
    public override string Keyword => "expect-rejected";

    /// <inheritdoc />
    public override string Describe() =>
        $"expect {File} rejected" + (Line is { } l ? $" at {l}" + (Column is { } c ? $":{c}" : "") : "") + $": \"{ErrorContains}\"";
}
