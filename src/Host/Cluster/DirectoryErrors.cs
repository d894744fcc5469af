using Actorvisor.Host.Api.V1;
using Akka.Actor;

namespace Actorvisor.Host.Cluster;

/// <summary>The typed errors the <see cref="VmDirectory"/> answers with, each worded in one place.</summary>
internal static class DirectoryErrors
{
    /// <summary>No VM of that name anywhere in the cluster.</summary>
    public static ApiErrorReply NotFound(string name) => new(ApiErrorCode.NotFound, $"name: no VM named '{name}' in the cluster", "name");

    /// <summary>The name is taken (by a VM perhaps still being created, or Lost).</summary>
    public static ApiErrorReply AlreadyExists(string name, VmLocation existing)
    {
        var marker = existing.Marker is { } m ? $" ({m})" : "";
        return new(ApiErrorCode.AlreadyExists,
            $"spec.name: a VM named '{name}' already exists on node {existing.Node}{marker}; destroy it first or pick another name", "spec.name");
    }

    /// <summary>The VM's node has not answered its create yet.</summary>
    public static ApiErrorReply StillCreating(string name, VmLocation location) =>
        new(ApiErrorCode.InvalidState, $"VM '{name}' is still being created on {location.Node}; try again in a moment", "name");

    /// <summary>The VM's node left the cluster; only destroy is left to do.</summary>
    public static ApiErrorReply Lost(string name, VmLocation location) =>
        new(ApiErrorCode.NodeUnavailable, $"VM '{name}' is Lost: {location.Outcome}; destroy it to free the name", "name");

    /// <summary>The VM's node is known from a snapshot but has not announced itself to this directory yet.</summary>
    public static ApiErrorReply NodeNotAnnounced(string name, VmLocation location) =>
        new(ApiErrorCode.NodeUnavailable, $"VM '{name}' is on {location.Node}, which has not announced itself yet", "name");

    /// <summary>The node was lost before it answered the create.</summary>
    public static ApiErrorReply LostWhileCreating(string name) =>
        new(ApiErrorCode.NodeUnavailable, $"VM '{name}': its node was lost while it was being created");

    /// <summary>The node did not answer <paramref name="what"/> within <paramref name="wait"/>, or the ask failed otherwise.</summary>
    public static ApiErrorReply NodeDidNotAnswer(DirectoryNode node, string what, TimeSpan wait, Exception e) => e is AskTimeoutException
        ? new(ApiErrorCode.Timeout, $"node {node.Info.Name} did not answer the {what} within {RequestDeadline.Print(wait)} (the request's deadline less a margin; asked by the VM directory)")
        : new(ApiErrorCode.NodeUnavailable, $"node {node.Info.Name} did not answer the {what} ({e.GetType().Name}: {e.Message})");
}
