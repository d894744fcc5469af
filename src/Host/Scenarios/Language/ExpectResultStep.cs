namespace Actorvisor.Host.Scenarios.Language;

/// <summary><c>expect-result</c>: the guest ends, before the step's timeout, by writing result code <see cref="Code"/>.</summary>
/// <param name="Location">Where it was written.</param>
/// <param name="Vm">The VM.</param>
/// <param name="Code">The expected result code (0..255).</param>
public sealed record ExpectResultStep(SourceLocation Location, string Vm, int Code) : Step(Location)
{
    /// <inheritdoc />
    public override string Keyword => "expect-result";

    /// <inheritdoc />
    public override string Describe() => $"expect {Vm} to exit with {Code}";
}
