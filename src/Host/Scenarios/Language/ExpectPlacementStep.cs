namespace Actorvisor.Host.Scenarios.Language;

/// <summary>
/// <c>expect-placement</c>: where VMs were placed: <see cref="Vms"/> all on <see cref="Node"/>, and/or (with
/// <see cref="Distinct"/>) each on a different node.
/// </summary>
/// <param name="Location">Where it was written.</param>
/// <param name="Vms">The VMs (created).</param>
/// <param name="Node">The node they must be on, or null.</param>
/// <param name="Distinct">True if no two of them may share a node.</param>
public sealed record ExpectPlacementStep(SourceLocation Location, IReadOnlyList<string> Vms, string? Node, bool Distinct) : Step(Location)
{
    /// <inheritdoc />
    public override string Keyword => "expect-placement";

    /// <inheritdoc />
    public override string Describe() =>
        $"expect {string.Join(", ", Vms)} " + (Node is not null ? $"on node {Node}" : "") + (Node is not null && Distinct ? ", " : "") + (Distinct ? "on different nodes" : "");
}
