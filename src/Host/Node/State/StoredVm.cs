using Actorvisor.Host.Api.V1;

namespace Actorvisor.Host.Node.State;

/// <summary>
/// One VM as the node's state database holds it: its definition (<paramref name="Spec"/>, the spec as created, its
/// restart policy included), its lifecycle intent and how many times its restart policy restarted it.
/// </summary>
public sealed record StoredVm(ApiVmSpec Spec, VmIntent Intent, int Restarts);
