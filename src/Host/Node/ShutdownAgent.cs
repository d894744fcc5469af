namespace Actorvisor.Host.Node;

/// <summary>Destroys every VM of the node; the agent replies NodeShutDown. Sent by CoordinatedShutdown.</summary>
public sealed record ShutdownAgent
{
    /// <summary>The one instance.</summary>
    public static readonly ShutdownAgent Instance = new();
}
