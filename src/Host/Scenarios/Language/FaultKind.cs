namespace Actorvisor.Host.Scenarios.Language;

/// <summary>The faults a scenario can inject.</summary>
public enum FaultKind
{
    /// <summary>A declared crashable device throws on its next access.</summary>
    CrashDevice,
    /// <summary>The running guest triple-faults (its IDT is made empty and it is made to take a debug trap).</summary>
    TripleFault,
    /// <summary>The VM's backing store answers slowly (needs lazy memory over async page faults).</summary>
    SlowStore,
    /// <summary>The VM's backing store fails its reads (needs lazy memory over async page faults).</summary>
    FailingStore,
    /// <summary>A node process is killed (needs the cluster).</summary>
    KillNode,
}

/// <summary>YAML names of <see cref="FaultKind"/>.</summary>
public static class FaultKinds
{
    /// <summary>"crash-device", "triple-fault", ...</summary>
    public static string YamlName(this FaultKind kind) => kind switch
    {
        FaultKind.CrashDevice => "crash-device",
        FaultKind.TripleFault => "triple-fault",
        FaultKind.SlowStore => "slow-store",
        FaultKind.FailingStore => "failing-store",
        FaultKind.KillNode => "kill-node",
        _ => kind.ToString(),
    };

    /// <summary>Every kind by its YAML name.</summary>
    public static IReadOnlyDictionary<string, FaultKind> ByName { get; } =
        Enum.GetValues<FaultKind>().ToDictionary(k => k.YamlName());
}
