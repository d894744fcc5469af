using Actorvisor.Hardware.X86;
using Actorvisor.Host.Scenarios.Language;
using Actorvisor.Host.Scenarios.Parsing;
using Actorvisor.Host.Scenarios.Running;

namespace Actorvisor.Host.Scenarios.Steps;

/// <summary><c>inject</c>: injects a fault into a VM, one of its devices or a node.</summary>
/// <param name="Location">Where it was written.</param>
/// <param name="Fault">What fault.</param>
/// <param name="Vm">The VM (every fault but kill-node).</param>
/// <param name="Device">The device (crash-device).</param>
/// <param name="Node">The node (kill-node).</param>
/// <param name="Delay">For slow-store: how long each read takes.</param>
public sealed record InjectFaultStep(SourceLocation Location, FaultKind Fault, string? Vm, string? Device, string? Node, TimeSpan? Delay) : Step(Location)
{
    /// <inheritdoc />
    public override string Keyword => "inject";

    /// <inheritdoc />
    public override string Describe() => Fault switch
    {
        FaultKind.CrashDevice => $"inject crash-device {Vm}/{Device}",
        FaultKind.KillNode => $"inject kill-node {Node}",
        _ => $"inject {Fault.YamlName()} {Vm}",
    };
}

/// <summary>The <c>inject</c> step: a fault in a VM, one of its devices or its backing store, or the loss of a node.</summary>
internal sealed class InjectFaultKind() : StepKind<InjectFaultStep>("inject")
{
    /// <inheritdoc />
    public override Step? Parse(StepSyntax syntax)
    {
        var f = syntax.Fields("fault", "vm", "device", "node", "delay");
        if (f is null) return null;
        var fault = f.Choice("fault", FaultKinds.ByName, required: true);
        var vm = f.String("vm");
        var device = f.String("device");
        var node = f.String("node");
        var delay = f.Duration("delay");
        if (fault is not { } kind) return null;
        bool ok = true;
        string what = $"inject {kind.YamlName()}";
        void Need(string key, bool present) { if (!present) { syntax.Error($"{what}: missing '{key}'"); ok = false; } }
        void Refuse(string key) { if (f.Has(key)) { f.Error(key, $"does not apply to fault {kind.YamlName()}"); ok = false; } }
        switch (kind)
        {
            case FaultKind.CrashDevice:
                Need("vm", vm is not null); Need("device", device is not null); Refuse("node"); Refuse("delay");
                break;
            case FaultKind.KillNode:
                Need("node", node is not null); Refuse("vm"); Refuse("device"); Refuse("delay");
                break;
            case FaultKind.SlowStore:
                Need("vm", vm is not null); Need("delay", f.Has("delay")); Refuse("device"); Refuse("node");
                ok &= !f.Has("delay") || delay is not null;
                break;
            default:
                Need("vm", vm is not null); Refuse("device"); Refuse("node"); Refuse("delay");
                break;
        }
        return ok ? new InjectFaultStep(syntax.At, kind, vm, device, node, delay) : null;
    }

    /// <inheritdoc />
    protected override string? VmOf(InjectFaultStep step) => step.Vm;

    /// <inheritdoc />
    protected override void Validate(InjectFaultStep fault, StepCheck check)
    {
        var scenario = check.Scenario;
        var vm = check.Vm;
        var what = $"inject {fault.Fault.YamlName()}";
        NodeDeclaration? node;
        if (fault.Fault == FaultKind.KillNode)
        {
            node = scenario.FindNode(fault.Node!);
            if (node is null)
            {
                check.Error(fault.Location, $"{what}: unknown node '{fault.Node}'; declared nodes: {check.NodeNames}");
                return;
            }
        }
        else
        {
            node = vm is null ? null : scenario.FindNode(vm.Node);
        }
        if (node is not null && NodeKindSupport.Unsupported(node.Kind, fault.Fault) is { } why)
        {
            check.Error(fault.Location, $"{what}: {why}");
            return;
        }
        if (fault.Fault is FaultKind.SlowStore or FaultKind.FailingStore && vm is { LazyMemory: null })
            check.Error(fault.Location, $"{what}: vm '{vm.Name}' has no lazy memory, so it has no backing store; give it 'lazy-memory'");
        if (fault.Fault == FaultKind.TripleFault && vm is not null && vm.ToMachineSpec().EffectiveBootMode == BootMode.Real)
            check.Error(fault.Location, $"{what}: vm '{vm.Name}' runs guest '{vm.Guest.Name}' in real mode; the fault needs a guest in protected or long mode (it empties the IDT and makes the guest take a debug trap, which KVM does not turn into a shutdown in real mode)");
        if (fault.Fault == FaultKind.CrashDevice && vm is not null)
        {
            var device = vm.FindDevice(fault.Device!);
            if (device is null)
                check.Error(fault.Location, $"{what}: vm '{vm.Name}' has no device '{fault.Device}'; declare it under the vm's 'devices' with kind crashable-port (the built-in UART and debug-exit port cannot be crashed)");
        }
    }

    /// <inheritdoc />
    protected override async Task<StepOutcome> RunAsync(InjectFaultStep step, ScenarioRun run, StepContext context)
    {
        if (step.Fault == FaultKind.KillNode)
        {
            await run.KillNodeAsync(step.Node!, context.CancellationToken).ConfigureAwait(false);
            return StepOutcome.Saw($"node {step.Node} killed");
        }
        await run.Vm(step.Vm!, step).InjectFaultAsync(step, context.CancellationToken).ConfigureAwait(false);
        return StepOutcome.Passed;
    }
}
