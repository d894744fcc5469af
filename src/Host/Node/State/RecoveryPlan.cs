using Actorvisor.Actors.Registry;

namespace Actorvisor.Host.Node.State;

/// <summary>
/// What a node that starts does with one VM of its stored state, by the VM's restart policy and its recorded intent:
/// <c>never</c>: recreated as defined only (Created, not started: it can be started by hand); <c>on-failure</c>: started
/// if it was running or paused when the node went (cold boot; paused again if it was paused), else defined only;
/// <c>always</c>: started whatever its intent (paused again if it was paused).
/// </summary>
/// <param name="Policy">The VM's restart policy.</param>
/// <param name="Start">True if the VM is started once recreated.</param>
/// <param name="Pause">True if it is paused right after that start.</param>
public sealed record RecoveryPlan(VmRestartPolicy Policy, bool Start, bool Pause)
{
    /// <summary>The plan for <paramref name="vm"/>.</summary>
    public static RecoveryPlan For(StoredVm vm)
    {
        var policy = VmRestartPolicies.TryParse(vm.Spec.Restart, out var p) ? p : VmRestartPolicy.Never;
        bool start = policy switch
        {
            VmRestartPolicy.OnFailure => vm.Intent != VmIntent.Stopped,
            VmRestartPolicy.Always => true,
            _ => false,
        };
        return new RecoveryPlan(policy, start, start && vm.Intent == VmIntent.Paused);
    }

    /// <summary>What the plan does, for the node's log.</summary>
    public string Describe() => Start ? Pause ? "started, then paused" : "started" : "defined, not started";
}
