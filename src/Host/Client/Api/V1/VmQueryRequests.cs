namespace Actorvisor.Host.Api.V1;

/// <summary>Lists the cluster's VMs (only those on node <paramref name="Node"/> if given). Replies <see cref="VmListReply"/>.</summary>
public sealed record ListVmsRequest(string? Node = null) : ApiRequest;

/// <summary>Describes one VM in detail. Replies <see cref="VmDescriptionReply"/>.</summary>
public sealed record DescribeVmRequest(string Name) : ApiRequest;
