using Actorvisor.Actors.Registry;
using Actorvisor.Actors.Vm;
using Actorvisor.Host.Api.V1;
using Actorvisor.Host.Cluster;
using Akka.Actor;

namespace Actorvisor.Host.Node;

/// <summary>
/// The typed errors a node's <see cref="HypervisorAgent"/> answers with: the registry's and the VmActor's errors as
/// the API's, and the ones it words itself (no such VM here, a wait that ended), each worded in one place.
/// </summary>
internal static class AgentErrors
{
    /// <summary>No VM of that name on this node.</summary>
    public static ApiErrorReply NotHere(string name, string node) => new(ApiErrorCode.NotFound, $"name: no VM named '{name}' on node {node}", "name");

    /// <summary>The registry's error as the API's.</summary>
    public static ApiErrorReply Of(VmRegistryError error) => error switch
    {
        VmRegistryError.DuplicateVmName => new(ApiErrorCode.AlreadyExists, $"spec.name: {error.Message}", "spec.name"),
        VmRegistryError.InsufficientCapacity => new(ApiErrorCode.NoCapacity, error.Message),
        VmRegistryError.InvalidSpec s => new(ApiErrorCode.InvalidRequest, s.Message, "spec." + s.Problem.Split(':')[0]),
        VmRegistryError.UnknownVm => new(ApiErrorCode.NotFound, $"name: {error.Message}", "name"),
        VmRegistryError.ShuttingDown => new(ApiErrorCode.NodeUnavailable, error.Message),
        _ => new(ApiErrorCode.OperationFailed, error.Message),
    };

    /// <summary>VM <paramref name="name"/>'s own error as the API's.</summary>
    public static ApiErrorReply Of(string name, VmError error) => error switch
    {
        VmError.InvalidTransition or VmError.NotAccepting => new(ApiErrorCode.InvalidState, $"VM '{name}': {error.Message}", "name"),
        _ => new(ApiErrorCode.OperationFailed, $"VM '{name}': {error.Message}"),
    };

    /// <summary>The VmActor did not answer <paramref name="what"/> within <paramref name="wait"/>, or the ask failed otherwise.</summary>
    public static ApiErrorReply VmDidNotAnswer(string name, string nodeName, string what, TimeSpan wait, Exception e) => e is AskTimeoutException
        ? new(ApiErrorCode.Timeout, $"VM '{name}' on node {nodeName} did not answer the {what} within {RequestDeadline.Print(wait)} (the request's deadline less a margin)")
        : new(ApiErrorCode.OperationFailed, $"VM '{name}' on node {nodeName}: the {what} failed ({e.GetType().Name}: {e.Message})");

    /// <summary>The registry did not finish <paramref name="doing"/> (e.g. "building") VM <paramref name="name"/> within <paramref name="wait"/>.</summary>
    private static ApiErrorReply RegistryDidNotFinish(string nodeName, string doing, string name, TimeSpan wait) => new(ApiErrorCode.Timeout,
        $"node {nodeName} did not finish {doing} VM '{name}' within {RequestDeadline.Print(wait)} (the request's deadline less a margin)");

    /// <summary>Why the registry's build of VM <paramref name="name"/> failed: its error, its ask's timeout, or an unexpected reply.</summary>
    public static ApiErrorReply CreateFailed(object reply, string name, string nodeName, TimeSpan wait) => reply switch
    {
        NodeRequestFailed failed => Of(failed.Error),
        AskTimeoutException => RegistryDidNotFinish(nodeName, "building", name, wait),
        _ => new ApiErrorReply(ApiErrorCode.OperationFailed, $"creating VM '{name}' on {nodeName} failed: {Describe(reply)}"),
    };

    /// <summary>Why the registry's destroy of VM <paramref name="name"/> failed: its error, its ask's timeout, or an unexpected reply.</summary>
    public static ApiErrorReply DestroyFailed(object reply, string name, string nodeName, TimeSpan wait) => reply switch
    {
        NodeRequestFailed failed => Of(failed.Error),
        AskTimeoutException => RegistryDidNotFinish(nodeName, "destroying", name, wait),
        _ => new ApiErrorReply(ApiErrorCode.OperationFailed, $"destroying VM '{name}' failed: {Describe(reply)}"),
    };

    /// <summary>An unexpected reply or failure, named for a message.</summary>
    private static string Describe(object reply) => reply is Exception e ? $"{e.GetType().Name}: {e.Message}" : reply.GetType().Name;
}
