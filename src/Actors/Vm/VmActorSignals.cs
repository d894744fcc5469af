namespace Actorvisor.Actors.Vm;

/// <summary>A <see cref="VmActor"/>'s note to itself that a child crashed (its supervisor strategy stopped it), with why.</summary>
internal sealed record ChildCrashed(string Reason);

/// <summary>A <see cref="VmActor"/>'s note to itself that its console relay holds output to publish.</summary>
internal sealed record ConsoleWaiting
{
    /// <summary>The one instance.</summary>
    public static readonly ConsoleWaiting Instance = new();
}
