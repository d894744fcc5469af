namespace Actorvisor.Host.Api.V1;

/// <summary>Lists the cluster's VMs (only those on node <paramref name="Node"/> if given). Replies <see cref="VmListReply"/>.</summary>
/// <param name="Node">The node whose VMs to list; null for every node.</param>
public sealed record ListVmsRequest(string? Node = null) : ApiRequest;

/// <summary>Describes one VM in detail. Replies <see cref="VmDescriptionReply"/>.</summary>
/// <param name="Name">The VM.</param>
public sealed record DescribeVmRequest(string Name) : ApiRequest;
