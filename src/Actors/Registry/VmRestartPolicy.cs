using Actorvisor.Actors.Vm;

namespace Actorvisor.Actors.Registry;

/// <summary>
/// What the node does when one of its VMs ends without being asked to (and, on a node that keeps its VMs' desired
/// state, when the node itself comes back): the registry owns the decision for a VM that ends at runtime.
/// </summary>
public enum VmRestartPolicy
{
    /// <summary>Never restarted: a VM that ends stays ended until it is destroyed.</summary>
    Never = 0,

    /// <summary>Restarted when it fails (a triple fault, a crashed part), not when its guest ends normally.</summary>
    OnFailure = 1,

    /// <summary>Restarted whenever it ends on its own, failed or not; only a stop or destroy asked for ends it.</summary>
    Always = 2,
}

/// <summary>The rules of <see cref="VmRestartPolicy"/> and its names on the wire, the CLI and in scenarios.</summary>
public static class VmRestartPolicies
{
    /// <summary>The names accepted for each policy: "never", "on-failure", "always".</summary>
    public static readonly IReadOnlyList<string> Names = ["never", "on-failure", "always"];

    /// <summary>True if a VM under <paramref name="policy"/> that ended with <paramref name="outcome"/> is restarted.</summary>
    public static bool RestartsAfter(this VmRestartPolicy policy, VmOutcome outcome) => outcome is not (VmOutcome.StoppedOnRequest or VmOutcome.MigratedAway) && policy switch
    {
        VmRestartPolicy.OnFailure => outcome is VmOutcome.Failed,
        VmRestartPolicy.Always => true,
        _ => false,
    };

    /// <summary>The policy named <paramref name="name"/> (null means <see cref="VmRestartPolicy.Never"/>); false if the name is unknown.</summary>
    public static bool TryParse(string? name, out VmRestartPolicy policy)
    {
        policy = name switch
        {
            null or "never" => VmRestartPolicy.Never,
            "on-failure" => VmRestartPolicy.OnFailure,
            "always" => VmRestartPolicy.Always,
            _ => (VmRestartPolicy)(-1),
        };
        return (int)policy >= 0;
    }

    /// <summary>The policy's name ("never", "on-failure", "always").</summary>
    public static string Name(this VmRestartPolicy policy) => Names[(int)policy];
}
