using Actorvisor.Actors.Registry;

namespace Actorvisor.Host.Node.State;

/// <summary>
/// What a node that starts does with one VM of its stored state. A VM with snapshot-on-stop and a managed save
/// (<see cref="StoredVm.ManagedSave"/>) is restored from that snapshot (lazily) and continues as it was, whatever its
/// restart policy: started if its intent was running, started then paused if paused, not started if stopped. Any other VM
/// is built from its definition (a cold boot) per its restart policy and recorded intent: <c>never</c>: defined only
/// (Created, not started: it can be started by hand); <c>on-failure</c>: started if it was running or paused when the
/// node went (paused again if it was paused), else defined only; <c>always</c>: started whatever its intent (paused again
/// if it was paused).
/// </summary>
/// <param name="Policy">The VM's restart policy.</param>
/// <param name="Start">True if the VM is started once recreated.</param>
/// <param name="Pause">True if it is paused right after that start.</param>
/// <param name="RestoreFrom">The managed save it is restored from, or null for a cold boot of its definition.</param>
public sealed record RecoveryPlan(VmRestartPolicy Policy, bool Start, bool Pause, string? RestoreFrom = null)
{
    /// <summary>The plan for <paramref name="vm"/>.</summary>
    public static RecoveryPlan For(StoredVm vm)
    {
        var policy = VmRestartPolicies.TryParse(vm.Spec.Restart, out var p) ? p : VmRestartPolicy.Never;
        var restoreFrom = vm.Spec.SnapshotOnStop == true ? vm.ManagedSave : null;
        bool start = restoreFrom is not null ? vm.Intent != VmIntent.Stopped : policy switch
        {
            VmRestartPolicy.OnFailure => vm.Intent != VmIntent.Stopped,
            VmRestartPolicy.Always => true,
            _ => false,
        };
        return new RecoveryPlan(policy, start, start && vm.Intent == VmIntent.Paused, restoreFrom);
    }

    /// <summary>What the plan does, for the node's log.</summary>
    public string Describe() =>
        (RestoreFrom is null ? "" : $"restored from managed save {RestoreFrom}, ") + (Start ? Pause ? "started, then paused" : "started" : "defined, not started");
}
