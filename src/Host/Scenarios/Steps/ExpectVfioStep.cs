using Actorvisor.Host.Scenarios.Language;
using Actorvisor.Host.Scenarios.Parsing;
using Actorvisor.Host.Scenarios.Running;

namespace Actorvisor.Host.Scenarios.Steps;

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

/// <summary>The <c>expect-vfio</c> step: checks the VFIO files attached to a VM and its non-coherent DMA state.</summary>
internal sealed class ExpectVfioKind() : StepKind<ExpectVfioStep>("expect-vfio")
{
    /// <inheritdoc />
    public override bool RunsOnCluster => false;

    /// <inheritdoc />
    public override Step? Parse(StepSyntax syntax)
    {
        var f = syntax.Fields("vm", "files", "non-coherent-dma");
        if (f is null) return null;
        var vm = f.String("vm", required: true);
        var files = f.StringList("files");
        var nonCoherent = f.Bool("non-coherent-dma");
        if (!f.Has("files") && !f.Has("non-coherent-dma"))
        {
            syntax.Error("expect-vfio: give 'files' (the attached files' paths, [] for none) and/or 'non-coherent-dma' (true or false)");
            return null;
        }
        if ((f.Has("files") && files is null) || (f.Has("non-coherent-dma") && nonCoherent is null) || vm is null) return null;
        return new ExpectVfioStep(syntax.At, vm, files, nonCoherent);
    }

    /// <inheritdoc />
    protected override string? VmOf(ExpectVfioStep step) => step.Vm;

    /// <inheritdoc />
    protected override async Task<StepOutcome> RunAsync(ExpectVfioStep step, ScenarioRun run, StepContext context)
    {
        var vm = run.Vm(step.Vm, step);
        var state = await vm.ListVfioAsync(context.CancellationToken).ConfigureAwait(false);
        var names = state.Files.Select(f => f.Name).ToList();
        var seen = $"{ExpectVfioStep.Format(names)}; non-coherent DMA: {VfioKind.YesNo(state.NonCoherentDma)}";
        bool filesMatch = step.Files is null || (step.Files.Count == names.Count && step.Files.ToHashSet(StringComparer.Ordinal).SetEquals(names));
        bool flagMatches = step.NonCoherentDma is null || step.NonCoherentDma == state.NonCoherentDma;
        if (!filesMatch || !flagMatches)
            throw new StepFailedException(run.WithSerial(new StepFailure(
                !filesMatch ? $"{step.Vm} has other VFIO files attached than expected" : $"{step.Vm}'s non-coherent DMA state differs",
                step.Expected, seen), step.Vm));
        return StepOutcome.Saw(seen);
    }
}
