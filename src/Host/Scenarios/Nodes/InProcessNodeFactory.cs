using Actorvisor.Actors.Registry;
using Actorvisor.Actors.Runtime;
using Actorvisor.Hardware.Accel;
using Actorvisor.Hardware.Vfio;
using Actorvisor.Host.Scenarios.Language;

namespace Actorvisor.Host.Scenarios.Nodes;

/// <summary>Starts in-process nodes: an <see cref="ActorvisorRuntime"/> (ActorSystem + VmRegistryActor) per declared node.</summary>
/// <param name="logLevel">
/// Akka's log level for the nodes: OFF by default, since every VM failure a log line would announce reaches the
/// scenario's report as the VM's outcome; WARNING or DEBUG to see the runtime's own account.
/// </param>
/// <param name="kvmVfioDevice">
/// Creates each VM's KVM-VFIO device; null (the default) for the real one (<see cref="KvmVfioDevices.Create"/>: the
/// kernel's on KVM, the runtime's otherwise), as <see cref="Actorvisor.Actors.Vm.VmActorSpec.KvmVfioDevice"/> takes it.
/// </param>
public sealed class InProcessNodeFactory(string logLevel = "OFF", Func<IVirtualMachine, IKvmVfioDevice>? kvmVfioDevice = null) : INodeFactory
{
    /// <inheritdoc />
    public Task<IScenarioNode> StartAsync(NodeDeclaration node, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(node);
        if (node.Kind != NodeKind.InProcess)
            throw new NotSupportedException($"node kind '{node.Kind.YamlName()}' cannot be started in-process");
        var capacity = new NodeCapacity(node.Vcpus ?? Environment.ProcessorCount * 4, node.MemoryBytes ?? NodeDeclaration.DefaultMemoryBytes);
        // ActorSystem names allow letters, digits and '-' / '_'; the node name may hold dots.
        var systemName = "scenario-" + string.Concat(node.Name.Select(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' ? c : '-'));
        var runtime = ActorvisorRuntime.Start(capacity, systemName, $"akka.loglevel = {logLevel}\nakka.stdout-loglevel = {logLevel}");
        return Task.FromResult<IScenarioNode>(new InProcessNode(node, runtime, kvmVfioDevice));
    }
}
