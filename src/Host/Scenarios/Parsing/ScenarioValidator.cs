using Actorvisor.Hardware.Devices;
using Actorvisor.Hardware.Guests;
using Actorvisor.Hardware.Machines;
using Actorvisor.Host.Scenarios.Language;
using Actorvisor.Host.Scenarios.Steps;

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
            catch (ArgumentException e)
            {
                // A guest refuses parameter values its parameter ranges let through together (e.g. an unaligned
                // memory-writer address); found by the fuzz test.
                var reason = e.Message;
                int parameter = reason.LastIndexOf(" (Parameter", StringComparison.Ordinal);
                if (parameter > 0) reason = reason[..parameter];
                context.Error(vm.Guest.Location, $"{what}: guest {vm.Guest}: {reason}");
            }
            if (scenario.FindNode(vm.Node) is { Kind: NodeKind.Cluster } clusterNode) ValidateClusterVm(vm, clusterNode, context);
            else if (vm.Restart != Actors.Registry.VmRestartPolicy.Never)
                context.Error(vm.Location, $"vm '{vm.Name}': 'restart' is supported by node kind 'cluster' only (an in-process node's VM session follows one VM actor; a restart builds a new one)");
            else if (vm.SnapshotOnStop)
                context.Error(vm.Location, $"vm '{vm.Name}': 'snapshot-on-stop' is supported by node kind 'cluster' only (an in-process node keeps no state across its stops)");
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

    // A guest told where to write (memory-writer's address) or read (asyncpf-scheduler's) must do so inside the VM's
    // RAM or its lazy memory.
    private static void ValidateGuestWrites(VmDeclaration vm, ulong ram, ParseContext context)
    {
        var entry = GuestCatalog.Find(vm.Guest.Name);
        if (entry?.Writes is { } writes) ValidateGuestRange(vm, ram, "writes", writes(vm.Guest.Parameters), context);
        if (entry?.Reads is { } reads) ValidateGuestRange(vm, ram, "reads", reads(vm.Guest.Parameters), context);
    }

    private static void ValidateGuestRange(VmDeclaration vm, ulong ram, string verb, (ulong Address, ulong Length) range, ParseContext context)
    {
        var (address, length) = range;
        bool inRam = address + length <= ram;
        bool inLazy = vm.LazyMemory is { } lazy && address >= lazy.Address && address + length <= lazy.Address + lazy.Size;
        if (inRam || inLazy) return;
        var lazyText = vm.LazyMemory is { } l ? $" or its lazy memory [0x{l.Address:x}, 0x{l.Address + l.Size:x})" : "";
        context.Error(vm.Guest.Location, $"vm '{vm.Name}': guest '{vm.Guest.Name}' {verb} [0x{address:x}, 0x{address + length:x}), which is not inside its RAM [0, 0x{ram:x}){lazyText}");
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
        if (vm.Disks.Count > 0) context.Error(vm.Location, $"{what}: 'disks' are not supported by node kind 'cluster' (its nodes take disks from their own image directories)");
    }

    // VmActorSpec's rule for names (the actor runtime checks it again; here it is reported with a location).
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
            var kind = StepKinds.Of(step);
            VmDeclaration? vm = null;
            if (kind.VmOf(step) is { } vmName)
            {
                vm = scenario.FindVm(vmName);
                if (vm is null)
                {
                    var declared = scenario.Vms.Count == 0 ? "none ('vms:' declares them)" : string.Join(", ", scenario.Vms.Select(v => v.Name));
                    context.Error(step.Location, $"{step.Keyword}: unknown vm '{vmName}'{Suggestions.DidYouMean(vmName, scenario.Vms.Select(v => v.Name))}; declared vms: {declared}");
                    continue;
                }
            }
            if (vm is not null && !kind.RunsOnCluster && scenario.FindNode(vm.Node) is { Kind: NodeKind.Cluster } on)
            {
                context.Error(step.Location, $"{step.Keyword}: not supported for vm '{vm.Name}' on node '{on.Name}' (kind cluster): the remote API has no request for it");
                continue;
            }
            kind.Validate(step, new StepCheck(scenario, memory, context, vm));
            ValidateSteps(kind.ChildrenOf(step), scenario, memory, context);
        }
    }
}
