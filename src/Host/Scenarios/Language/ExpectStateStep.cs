namespace Actorvisor.Host.Scenarios.Language;

/// <summary><c>expect-state</c>: the VM is in <see cref="State"/>, or reaches it before the step's timeout.</summary>
/// <param name="Location">Where it was written.</param>
/// <param name="Vm">The VM.</param>
/// <param name="State">The expected state.</param>
public sealed record ExpectStateStep(SourceLocation Location, string Vm, VmStateName State) : Step(Location)
{
    /// <inheritdoc />
    public override string Keyword => "expect-state";

    /// <inheritdoc />
    public override string Describe() => $"expect {Vm} {State.ToString().ToLowerInvariant()}";
}
