using Actorvisor.Hardware.Devices;
using Actorvisor.Hardware.Guests;
using Actorvisor.Hardware.Machines;
using Actorvisor.Hardware.X86;
using Actorvisor.Host.Scenarios.Language;

namespace Actorvisor.Host.Scenarios.Parsing;

/// <summary>
/// The checks that need the whole scenario: names that must exist or be unique, VM specs the hardware layer
/// accepts, device ports that do not collide, memory ranges inside the VM, and faults or node kinds that
/// are not available yet. Run by <see cref="ScenarioParser"/> once the structure is error-free.
/// </summary>
internal static class ScenarioValidator
{
    // The ports every VM's bus already has: the COM1 UART and the debug-exit port.
    private static readonly (ushort First, int Count, string Owner)[] BuiltInPorts =
    [
        (Uart16550.Com1Port, Uart16550.PortCount, "the COM1 UART"),
        (DebugExitDevice.DefaultPort, 1, "the debug-exit port"),
    ];

    public static void Validate(Scenario scenario, ParseContext context)
    {
        foreach (var dup in scenario.Nodes.GroupBy(n => n.Name).Where(g => g.Count() > 1))
            context.Error(dup.ElementAt(1).Location, $"node '{dup.Key}' is declared twice");

        if (scenario.Nodes.Any(n => n.Kind == NodeKind.Cluster) && scenario.Nodes.Any(n => n.Kind == NodeKind.InProcess))
            context.Error(scenario.Nodes.First(n => n.Kind != scenario.Nodes[0].Kind).Location, "nodes of kind cluster and in-process cannot be mixed in one scenario (the cluster's placement would not know the in-process ones)");
        var memory = new Dictionary<string, ulong>();
        foreach (var dup in scenario.Vms.GroupBy(v => v.Name).Where(g => g.Count() > 1))
            context.Error(dup.ElementAt(1).Location, $"vm '{dup.Key}' is declared twice");
        foreach (var vm in scenario.Vms)
        {
            var what = $"vm '{vm.Name}'";
            if (NameProblem(vm.Name) is { } problem) context.Error(vm.Location, $"{what}: name {problem}");
            if (scenario.FindNode(vm.Node) is null)
                context.Error(vm.Location, $"{what}: unknown node '{vm.Node}'{Suggestions.DidYouMean(vm.Node, scenario.Nodes.Select(n => n.Name))}; declared nodes: {string.Join(", ", scenario.Nodes.Select(n => n.Name))}");
            try
            {
                var spec = vm.ToMachineSpec();
                spec.Validate();
                memory[vm.Name] = spec.MemoryBytes;
                ValidateGuestWrites(vm, spec.MemoryBytes, context);
            }
            catch (MachineSpecException e)
            {
                var at = e.ParamName?.StartsWith(nameof(MachineSpec.LazyMemory), StringComparison.Ordinal) == true ? vm.LazyMemory!.Location : vm.Location;
                context.Error(at, $"{what}: {SpecProblem(e)}");
            }
            if (scenario.FindNode(vm.Node) is { Kind: NodeKind.Cluster } clusterNode) ValidateClusterVm(vm, clusterNode, context);
            foreach (var dup in vm.Devices.GroupBy(d => d.Name).Where(g => g.Count() > 1))
                context.Error(dup.ElementAt(1).Location, $"{what}: device '{dup.Key}' is declared twice");
            for (int i = 0; i < vm.Devices.Count; i++)
            {
                var device = vm.Devices[i];
                foreach (var (first, count, owner) in BuiltInPorts)
                    if (device.Port >= first && device.Port < first + count)
                        context.Error(device.Location, $"{what} device '{device.Name}': port 0x{device.Port:x} belongs to {owner}");
                if (vm.Devices.Take(i).FirstOrDefault(earlier => earlier.Port == device.Port) is { } other)
                    context.Error(device.Location, $"{what} device '{device.Name}': port 0x{device.Port:x} is already claimed by device '{other.Name}'");
            }
        }
        ValidateSteps(scenario.Steps, scenario, memory, context);
    }

    // "MachineSpec.MemoryBytes: reason (Parameter 'MemoryBytes')" as "'memory': reason", in the file's words.
    private static string SpecProblem(MachineSpecException e)
    {
        var key = e.ParamName switch
        {
            nameof(MachineSpec.MemoryBytes) => "memory",
            nameof(MachineSpec.VcpuCount) => "vcpus",
            "LazyMemory.Size" => "lazy-memory: 'size'",
            "LazyMemory.GuestPhysicalAddress" => "lazy-memory: 'address'",
            _ => e.ParamName,
        };
        var message = e.Message;
        int start = message.IndexOf(": ", StringComparison.Ordinal);
        int end = message.LastIndexOf(" (Parameter", StringComparison.Ordinal);
        var reason = start >= 0 && end > start ? message[(start + 2)..end] : message;
        return $"'{key}': {reason}";
    }

    // A guest told where to write (memory-writer's address) must write inside the VM's RAM or its lazy memory.
    private static void ValidateGuestWrites(VmDeclaration vm, ulong ram, ParseContext context)
    {
        if (GuestCatalog.Find(vm.Guest.Name)?.Writes is not { } writes) return;
        var (address, length) = writes(vm.Guest.Parameters);
        bool inRam = address + length <= ram;
        bool inLazy = vm.LazyMemory is { } lazy && address >= lazy.Address && address + length <= lazy.Address + lazy.Size;
        if (inRam || inLazy) return;
        var lazyText = vm.LazyMemory is { } l ? $" or its lazy memory [0x{l.Address:x}, 0x{l.Address + l.Size:x})" : "";
        context.Error(vm.Guest.Location, $"vm '{vm.Name}': guest '{vm.Guest.Name}' writes [0x{address:x}, 0x{address + length:x}), which is not inside its RAM [0, 0x{ram:x}){lazyText}");
    }

    // A VM on a cluster node is created through the remote API, which names a library guest and its resources.
    private static void ValidateClusterVm(VmDeclaration vm, NodeDeclaration node, ParseContext context)
    {
        var what = $"vm '{vm.Name}' on node '{node.Name}' (kind cluster)";
        if (vm.Guest.NonDefaultParameters is { Count: > 0 } changed)
            context.Error(vm.Guest.Location, $"{what}: the remote API boots library guests with their default parameters; remove {string.Join(", ", changed.Select(c => $"'{c}'"))} (for a guest that runs until stopped use 'spin')");
        if (vm.LazyMemory is not null) context.Error(vm.LazyMemory.Location, $"{what}: {NodeKindSupport.LazyMemoryUnsupported(node.Kind)}");
        if (vm.Devices.Count > 0) context.Error(vm.Devices[0].Location, $"{what}: 'devices' are not supported by node kind 'cluster' (the remote API has no scenario devices)");
        if (vm.VfioFiles.Count > 0) context.Error(vm.Location, $"{what}: 'vfio' is not supported by node kind 'cluster'");
    }

    // VmSpec's rule for names (the actor runtime checks it again; here it is reported with a location).
    private static string? NameProblem(string name)
    {
        if (name.Length > 64) return "is longer than 64 characters";
        var bad = name.FirstOrDefault(c => !(char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.'));
        return bad == default ? null : $"contains '{bad}'; use letters, digits, '-', '_' and '.'";
    }

    private static void ValidateSteps(IReadOnlyList<Step> steps, Scenario scenario, Dictionary<string, ulong> memory, ParseContext context)
    {
        foreach (var step in steps)
        {
            string? vmName = step switch
            {
                LifecycleStep s => s.Vm,
                WaitForSerialStep s => s.Vm,
                ExpectStateStep s => s.Vm,
                ExpectResultStep s => s.Vm,
                ExpectOutcomeStep s => s.Vm,
                ExpectMemoryStep s => s.Vm,
                InjectFaultStep s => s.Vm,
                VfioStep s => s.Vm,
                ExpectVfioStep s => s.Vm,
                ExpectAsyncPfStep s => s.Vm,
                _ => null,
            };
            VmDeclaration? vm = null;
            if (vmName is not null)
            {
                vm = scenario.FindVm(vmName);
                if (vm is null)
                {
                    var declared = scenario.Vms.Count == 0 ? "none ('vms:' declares them)" : string.Join(", ", scenario.Vms.Select(v => v.Name));
                    context.Error(step.Location, $"{step.Keyword}: unknown vm '{vmName}'{Suggestions.DidYouMean(vmName, scenario.Vms.Select(v => v.Name))}; declared vms: {declared}");
                    continue;
                }
            }
            if (vm is not null && scenario.FindNode(vm.Node) is { Kind: NodeKind.Cluster } on && step is ExpectMemoryStep or VfioStep or ExpectVfioStep or ExpectAsyncPfStep)
            {
                context.Error(step.Location, $"{step.Keyword}: not supported for vm '{vm.Name}' on node '{on.Name}' (kind cluster): the remote API has no request for it");
                continue;
            }
            switch (step)
            {
                case ExpectMemoryStep m when memory.TryGetValue(m.Vm, out var ram):
                    if (m.Length == 0) context.Error(m.Location, "expect-memory: 'length' must be greater than 0");
                    else if (m.Length > ExpectMemoryStep.MaxLength) context.Error(m.Location, $"expect-memory: 'length' 0x{m.Length:x} is more than the limit of 0x{ExpectMemoryStep.MaxLength:x} (64 MiB)");
                    else if (m.Address >= ram || m.Length > ram - m.Address)
                        context.Error(m.Location, $"expect-memory: [0x{m.Address:x}, 0x{m.Address + m.Length:x}) is not inside vm '{m.Vm}''s RAM [0, 0x{ram:x})");
                    if (m.Algorithm == ChecksumAlgorithm.Sum32 && m.Length % 4 != 0)
                        context.Error(m.Location, $"expect-memory: sum32 adds dwords, so 'length' must be a multiple of 4 (got {m.Length})");
                    break;
                case InjectFaultStep f:
                    ValidateFault(f, vm, scenario, context);
                    break;
                case ExpectPlacementStep p:
                    foreach (var name in p.Vms.Where(n => scenario.FindVm(n) is null))
                        context.Error(p.Location, $"expect-placement: unknown vm '{name}'{Suggestions.DidYouMean(name, scenario.Vms.Select(v => v.Name))}; declared vms: {string.Join(", ", scenario.Vms.Select(v => v.Name))}");
                    if (p.Node is { } n && scenario.FindNode(n) is null)
                        context.Error(p.Location, $"expect-placement: unknown node '{n}'{Suggestions.DidYouMean(n, scenario.Nodes.Select(x => x.Name))}; declared nodes: {string.Join(", ", scenario.Nodes.Select(x => x.Name))}");
                    break;
                case ExpectAsyncPfStep a when vm!.LazyMemory is null:
                    context.Error(a.Location, $"expect-async-pf: vm '{vm.Name}' has no lazy memory, so it takes no async page faults; give it 'lazy-memory'");
                    break;
                case RepeatStep r:
                    ValidateSteps(r.Steps, scenario, memory, context);
                    break;
                case ParallelStep p:
                    ValidateSteps(p.Steps, scenario, memory, context);
                    break;
                case MeasureStep m:
                    ValidateSteps(m.Steps, scenario, memory, context);
                    break;
                case ExpectRejectedStep r when !File.Exists(Path.Combine(scenario.Folder, r.File)):
                    context.Error(r.Location, $"expect-rejected: file '{r.File}' does not exist (looked in {scenario.Folder})");
                    break;
            }
        }
    }

    private static void ValidateFault(InjectFaultStep fault, VmDeclaration? vm, Scenario scenario, ParseContext context)
    {
        var what = $"inject {fault.Fault.YamlName()}";
        NodeDeclaration? node;
        if (fault.Fault == FaultKind.KillNode)
        {
            node = scenario.FindNode(fault.Node!);
            if (node is null)
            {
                context.Error(fault.Location, $"{what}: unknown node '{fault.Node}'; declared nodes: {string.Join(", ", scenario.Nodes.Select(n => n.Name))}");
                return;
            }
        }
        else
        {
            node = vm is null ? null : scenario.FindNode(vm.Node);
        }
        if (node is not null && NodeKindSupport.Unsupported(node.Kind, fault.Fault) is { } why)
        {
            context.Error(fault.Location, $"{what}: {why}");
            return;
        }
        if (fault.Fault is FaultKind.SlowStore or FaultKind.FailingStore && vm is { LazyMemory: null })
            context.Error(fault.Location, $"{what}: vm '{vm.Name}' has no lazy memory, so it has no backing store; give it 'lazy-memory'");
        if (fault.Fault == FaultKind.TripleFault && vm is not null && vm.ToMachineSpec().EffectiveBootMode == BootMode.Real)
            context.Error(fault.Location, $"{what}: vm '{vm.Name}' runs guest '{vm.Guest.Name}' in real mode; the fault needs a guest in protected or long mode (it empties the IDT and makes the guest take a debug trap, which KVM does not turn into a shutdown in real mode)");
        if (fault.Fault == FaultKind.CrashDevice && vm is not null)
        {
            var device = vm.FindDevice(fault.Device!);
            if (device is null)
                context.Error(fault.Location, $"{what}: vm '{vm.Name}' has no device '{fault.Device}'; declare it under the vm's 'devices' with kind crashable-port (the built-in UART and debug-exit port cannot be crashed)");
        }
    }
}
