using Actorvisor.Host.Scenarios.Language;
using Actorvisor.Host.Scenarios.Parsing;
using Actorvisor.Host.Scenarios.Running;

namespace Actorvisor.Host.Scenarios.Steps;

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

/// <summary>The <c>expect-rejected</c> step: reads another scenario file and checks it is refused with the expected error.</summary>
internal sealed class ExpectRejectedKind() : StepKind<ExpectRejectedStep>("expect-rejected")
{
    /// <inheritdoc />
    public override Step? Parse(StepSyntax syntax)
    {
        var f = syntax.Fields("file", "error", "line", "column");
        if (f is null) return null;
        var file = f.String("file", required: true);
        var error = f.String("error", required: true);
        var line = f.Int("line", 1, int.MaxValue);
        var column = f.Int("column", 1, int.MaxValue);
        if (column is not null && line is null) f.Error("column", "needs 'line' too");
        return file is null || error is null ? null : new ExpectRejectedStep(syntax.At, file, error, line, column);
    }

    /// <inheritdoc />
    protected override void Validate(ExpectRejectedStep r, StepCheck check)
    {
        if (!File.Exists(Path.Combine(check.Scenario.Folder, r.File)))
            check.Error(r.Location, $"expect-rejected: file '{r.File}' does not exist (looked in {check.Scenario.Folder})");
    }

    /// <inheritdoc />
    protected override Task<StepOutcome> RunAsync(ExpectRejectedStep step, ScenarioRun run, StepContext context)
    {
        var path = Path.Combine(run.Scenario.Folder, step.File);
        IReadOnlyList<ScenarioError> errors;
        try
        {
            ScenarioParser.ParseFile(path);
            throw new StepFailedException(new StepFailure($"{step.File} was accepted, but the scenario expects it to be rejected",
                $"an error containing \"{step.ErrorContains}\"", "no errors"));
        }
        catch (ScenarioParseException e)
        {
            errors = e.Errors;
        }
        var match = errors.FirstOrDefault(e => e.Message.Contains(step.ErrorContains, StringComparison.OrdinalIgnoreCase)
            && (step.Line is null || e.Location.Line == step.Line) && (step.Column is null || e.Location.Column == step.Column));
        if (match is null)
        {
            var where = step.Line is { } l ? $" at line {l}" + (step.Column is { } c ? $", column {c}" : "") : "";
            throw new StepFailedException(new StepFailure($"{step.File} was rejected, but not with the expected error",
                $"an error{where} containing \"{step.ErrorContains}\"", string.Join(" | ", errors.Select(e => $"{e.Location.Line}:{e.Location.Column}: {e.Message}"))));
        }
        return Task.FromResult(StepOutcome.Saw($"{match.Location.Line}:{match.Location.Column}: {match.Message}"));
    }
}
