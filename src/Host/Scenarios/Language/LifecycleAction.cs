namespace Actorvisor.Host.Scenarios.Language;

/// <summary>The lifecycle requests a scenario sends to a VM.</summary>
public enum LifecycleAction
{
    /// <summary>Build the VM on its node (state Created).</summary>
    Create,
    /// <summary>Created -> Running.</summary>
    Start,
    /// <summary>Running -> Paused.</summary>
    Pause,
    /// <summary>Paused -> Running.</summary>
    Resume,
    /// <summary>Tear the VM down; it keeps its name (state Stopped or Failed).</summary>
    Stop,
    /// <summary>Tear the VM down and remove it from its node, freeing the name.</summary>
    Destroy,
}
