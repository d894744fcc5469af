using Actorvisor.Host.Api.V1;

namespace Actorvisor.Host.Api.Client;

/// <summary>
/// Which requests a client may send again when the node it sent one to is lost before the reply came back:
/// those that change nothing (list, describe, status) or whose second application changes nothing more
/// (event subscriptions are sets). A lifecycle request or a console subscription (which replays the backlog)
/// is not repeated; its caller learns that its outcome is unknown.
/// </summary>
public static class RepeatableRequests
{
    /// <summary>True when sending <paramref name="request"/> twice has the effect of sending it once.</summary>
    /// <param name="request">The request.</param>
    public static bool IsRepeatable(ApiRequest request) => request is ListVmsRequest or DescribeVmRequest or ClusterStatusRequest
        or SubscribeVmEventsRequest or UnsubscribeVmEventsRequest or ListMigrationsRequest;
}
