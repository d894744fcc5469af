namespace Actorvisor.Host.Scenarios.Language;

/// <summary>
/// <c>expect-vfio</c>: the VFIO files attached to a VM are exactly <see cref="Files"/> (in any order), and/or its
/// non-coherent DMA state is <see cref="NonCoherentDma"/>. At least one of the two is given.
/// </summary>
/// <param name="Location">Where it was written.</param>
/// <param name="Vm">The VM.</param>
/// <param name="Files">The attached files' names (their paths), or null to not check them.</param>
/// <param name="NonCoherentDma">Whether some attached file's DMA is not cache coherent, or null to not check it.</param>
public sealed record ExpectVfioStep(SourceLocation Location, string Vm, IReadOnlyList<string>? Files, bool? NonCoherentDma) : Step(Location)
{
    /// <inheritdoc />
    public override string Keyword => "expect-vfio";

    /// <inheritdoc />
    public override string Describe() => $"expect VFIO of {Vm}: {Expected}";

    /// <summary>What is expected, e.g. "files [/dev/vfio/12]; non-coherent DMA: no".</summary>
    public string Expected => string.Join("; ", new[]
    {
        Files is null ? null : Format(Files),
        NonCoherentDma is { } n ? $"non-coherent DMA: {(n ? "yes" : "no")}" : null,
    }.Where(p => p is not null));

    /// <summary>"files [a, b]", or "no files".</summary>
    public static string Format(IEnumerable<string> files)
    {
        var list = files.ToList();
        return list.Count == 0 ? "no files" : $"files [{string.Join(", ", list)}]";
    }
}
