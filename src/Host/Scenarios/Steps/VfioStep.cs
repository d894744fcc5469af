using Actorvisor.Host.Scenarios.Language;
using Actorvisor.Host.Scenarios.Nodes;
using Actorvisor.Host.Scenarios.Parsing;
using Actorvisor.Host.Scenarios.Running;
using YamlDotNet.RepresentationModel;

namespace Actorvisor.Host.Scenarios.Steps;

/// <summary><c>attach-vfio</c> or <c>detach-vfio</c>: attaches a VFIO file to a VM, or detaches one, by path.</summary>
/// <param name="Location">Where it was written.</param>
/// <param name="Action">Attach or detach.</param>
/// <param name="Vm">The VM.</param>
/// <param name="Path">The file's absolute path (e.g. /dev/vfio/12); detach names the file as it was attached.</param>
/// <param name="ExpectError">When set, the request must be refused this way.</param>
public sealed record VfioStep(SourceLocation Location, VfioAction Action, string Vm, string Path, ExpectedRefusal? ExpectError) : Step(Location)
{
    /// <inheritdoc />
    public override string Keyword => Action == VfioAction.Attach ? "attach-vfio" : "detach-vfio";

    /// <inheritdoc />
    public override string Describe() =>
        $"{(Action == VfioAction.Attach ? "attach" : "detach")} VFIO file {Path} {(Action == VfioAction.Attach ? "to" : "from")} {Vm}"
        + (ExpectError is null ? "" : $" (expect {ExpectError})");
}

/// <summary>The <c>attach-vfio</c> and <c>detach-vfio</c> steps: one VFIO file request to a VM's KVM-VFIO device, optionally expected to be refused.</summary>
internal sealed class VfioKind() : StepKind<VfioStep>("attach-vfio", "detach-vfio")
{
    /// <inheritdoc />
    public override bool RunsOnCluster => false;

    /// <inheritdoc />
    public override Step? Parse(StepSyntax syntax)
    {
        var action = syntax.Keyword == "attach-vfio" ? VfioAction.Attach : VfioAction.Detach;
        var f = syntax.Fields("vm", "path", "expect-error");
        if (f is null) return null;
        var vm = f.String("vm", required: true);
        var path = f.String("path", required: true)?.Trim();
        if (path is not null && ScenarioParser.VfioPathProblem(path) is { } problem)
        {
            f.Error("path", $"{problem}, got '{path}'");
            path = null;
        }
        ExpectedRefusal? expectError = null;
        bool expectErrorOk = true;
        if (f.Node("expect-error") is { } e)
        {
            expectError = ReadExpectedRefusal(e, syntax.Keyword, syntax.Context);
            expectErrorOk = expectError is not null;
        }
        return vm is null || path is null || !expectErrorOk ? null : new VfioStep(syntax.At, action, vm, path, expectError);
    }

    // expect-error: "text", or { kind: not-attached, text: "..." } (at least one of the two).
    private static ExpectedRefusal? ReadExpectedRefusal(YamlNode node, string keyword, ParseContext context)
    {
        if (node is YamlScalarNode s && !Fields.IsNull(s)) return new ExpectedRefusal(null, s.Value);
        var what = $"{keyword} expect-error";
        if (node is not YamlMappingNode)
        {
            context.Error(node, $"{what}: must be text (part of the refusal's message) or a mapping with 'kind' and/or 'text', got {Fields.Describe(node)}");
            return null;
        }
        var f = Fields.Of(node, what, context, "kind", "text");
        if (f is null) return null;
        var kind = f.Choice("kind", VfioErrorKinds.ByName);
        var text = f.String("text");
        if (!f.Has("kind") && !f.Has("text"))
        {
            context.Error(node, $"{what}: give 'kind' (one of {string.Join(", ", VfioErrorKinds.ByName.Keys)}) and/or 'text'");
            return null;
        }
        if ((f.Has("kind") && kind is null) || (f.Has("text") && text is null)) return null;
        return new ExpectedRefusal(kind, text);
    }

    /// <inheritdoc />
    protected override string? VmOf(VfioStep step) => step.Vm;

    /// <inheritdoc />
    protected override async Task<StepOutcome> RunAsync(VfioStep step, ScenarioRun run, StepContext context)
    {
        var vm = run.Vm(step.Vm, step);
        string done;
        try
        {
            if (step.Action == VfioAction.Attach)
            {
                var (file, nonCoherent) = await vm.AttachVfioAsync(step.Path, context.CancellationToken).ConfigureAwait(false);
                done = $"attached: {file.Description}, {(file.EnforcedCoherent ? "coherent" : "non-coherent")} DMA; the VM's non-coherent DMA: {YesNo(nonCoherent)}";
            }
            else
            {
                var nonCoherent = await vm.DetachVfioAsync(step.Path, context.CancellationToken).ConfigureAwait(false);
                done = $"detached; the VM's non-coherent DMA: {YesNo(nonCoherent)}";
            }
        }
        catch (VmRequestRefusedException refused) when (step.ExpectError is { } expected)
        {
            var seen = $"{refused.Kind ?? "refused"}: {refused.Message}";
            if (expected.Matches(refused.Kind, refused.Message)) return StepOutcome.Saw($"refused as expected: {seen}");
            throw new StepFailedException(run.WithSerial(new StepFailure($"{step.Keyword} {step.Path} was refused another way", expected.ToString(), seen), step.Vm));
        }
        if (step.ExpectError is { } expectedRefusal)
            throw new StepFailedException(run.WithSerial(new StepFailure($"{step.Keyword} {step.Path} was accepted, but the scenario expects it to be refused",
                expectedRefusal.ToString(), done), step.Vm));
        return StepOutcome.Saw(done);
    }

    /// <summary>"yes" or "no", as the VFIO steps report flags.</summary>
    internal static string YesNo(bool value) => value ? "yes" : "no";
}
