using Actorvisor.Host.Api.V1;

namespace Actorvisor.Host.Node.State;

/// <summary>
/// One VM as the node's state database holds it: its definition (<paramref name="Spec"/>, the spec as created, its
/// restart policy included), its lifecycle intent, how many times its restart policy restarted it, and its managed save
/// (<paramref name="ManagedSave"/>: the snapshot, in its node's snapshot directory, that its node took of it at a graceful
/// stop and restores it from; null for none).
/// </summary>
public sealed record StoredVm(ApiVmSpec Spec, VmIntent Intent, int Restarts, string? ManagedSave = null);
