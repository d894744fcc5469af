using Actorvisor.Host.Api.V1;
using Actorvisor.Host.Scenarios.Language;

namespace Actorvisor.Host.Scenarios.Nodes;

/// <summary>
/// A node of kind cluster: one `actorvisor node` process of the scenario's <see cref="ScenarioCluster"/>. VMs are
/// created through the cluster's remote API: pinned to this node when the VM names it, else placed by the cluster.
/// The cluster is stopped when the last of its nodes is disposed.
/// </summary>
internal sealed class ClusterNode(NodeDeclaration declaration, ScenarioCluster cluster, Func<ValueTask> release) : IScenarioNode
{
    private int _disposed;

    /// <inheritdoc />
    public NodeDeclaration Declaration { get; } = declaration;

    /// <inheritdoc />
    public async Task<IScenarioVm> CreateVmAsync(VmDeclaration vm, IReadOnlyList<(ulong Address, ulong Length)> memoryRanges, CancellationToken cancellationToken)
    {
        var machine = vm.ToMachineSpec();
        var spec = new ApiVmSpec(vm.Name, machine.EffectiveVcpuCount, machine.MemoryBytes, vm.Guest.Name, Node: vm.Pinned ? Declaration.Name : null,
            Restart: vm.Restart == Actors.Registry.VmRestartPolicy.Never ? null : Actors.Registry.VmRestartPolicies.Name(vm.Restart), CpuLimit: vm.CpuLimit,
            SnapshotOnStop: vm.SnapshotOnStop ? true : null);
        var reply = await cluster.RequestAsync(new CreateVmRequest(spec), cancellationToken).ConfigureAwait(false);
        if (reply is not VmReply created) throw ClusterVm.Refused(reply);
        var clusterVm = new ClusterVm(vm, created.Vm.Node, cluster);
        await clusterVm.SubscribeAsync(cancellationToken).ConfigureAwait(false);
        return clusterVm;
    }

    /// <inheritdoc />
    public async Task<IScenarioVm> RestoreVmAsync(VmDeclaration vm, string snapshot, string snapshotNode, Actorvisor.Hardware.Snapshots.RestoreMode mode,
        string consoleBefore, CancellationToken cancellationToken)
    {
        // On the node that wrote the snapshot: each scenario node keeps its own snapshot directory.
        var request = new RestoreVmRequest(vm.Name, snapshot, mode.ToString().ToLowerInvariant(), snapshotNode, vm.CpuLimit);
        var reply = await cluster.RequestAsync(request, cancellationToken).ConfigureAwait(false);
        if (reply is not VmReply restored) throw ClusterVm.Refused(reply);
        var clusterVm = new ClusterVm(vm, restored.Vm.Node, cluster);
        clusterVm.Observation.OnSerial(consoleBefore);
        clusterVm.Observation.SerialCursor = consoleBefore.Length;
        await clusterVm.SubscribeAsync(cancellationToken).ConfigureAwait(false);
        return clusterVm;
    }

    /// <inheritdoc />
    public Task KillAsync(CancellationToken cancellationToken)
    {
        cluster.Kill(Declaration.Name);
        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync() => Interlocked.Exchange(ref _disposed, 1) == 0 ? release() : ValueTask.CompletedTask;
}
