using Actorvisor.Host.Api.V1;

namespace Actorvisor.Host.Cluster;

/// <summary>The node placement chose, or why there is none.</summary>
public sealed record PlacementResult(NodeLoad? Node, ApiErrorReply? Error);
