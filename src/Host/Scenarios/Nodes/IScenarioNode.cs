using Actorvisor.Host.Scenarios.Language;

namespace Actorvisor.Host.Scenarios.Nodes;

/// <summary>A node the scenario runner places VMs on. Disposing it tears down every VM it still holds.</summary>
public interface IScenarioNode : IAsyncDisposable
{
    /// <summary>The node's declaration.</summary>
    NodeDeclaration Declaration { get; }

    /// <summary>
    /// Creates <paramref name="vm"/> (state Created). <paramref name="memoryRanges"/> are the guest-RAM ranges the
    /// scenario will check, kept when the VM is torn down so they can still be checked after it ended.
    /// </summary>
    /// <exception cref="VmRequestRefusedException">the node refused (duplicate name, capacity, invalid spec).</exception>
    Task<IScenarioVm> CreateVmAsync(VmDeclaration vm, IReadOnlyList<(ulong Address, ulong Length)> memoryRanges, CancellationToken cancellationToken);

    /// <summary>
    /// Creates <paramref name="vm"/> (state Created) from snapshot <paramref name="snapshot"/>, which a snapshot step took on
    /// node <paramref name="snapshotNode"/>, its memory brought back in <paramref name="mode"/>. Its observation starts with
    /// <paramref name="consoleBefore"/> (what the snapshotted VM had printed), its wait-for-serial cursor after it.
    /// </summary>
    /// <exception cref="VmRequestRefusedException">the node refused (no such snapshot here, a damaged snapshot, a duplicate name, capacity).</exception>
    Task<IScenarioVm> RestoreVmAsync(VmDeclaration vm, string snapshot, string snapshotNode, Actorvisor.Hardware.Snapshots.RestoreMode mode, string consoleBefore,
        CancellationToken cancellationToken);

    /// <summary>Kills the node's process at once (SIGKILL), as in a crash; its VMs are lost.</summary>
    /// <exception cref="NotSupportedException">the node kind cannot be killed (in-process).</exception>
    Task KillAsync(CancellationToken cancellationToken);
}
