namespace Actorvisor.Host.Api.V1;

// Requests that create a VM or move it through its lifecycle. Each is answered with a VmReply carrying the
// VM's state after the operation, or an ApiErrorReply.

/// <summary>Creates a VM (state Created) on the node placement picks, or on <see cref="ApiVmSpec.Node"/>.</summary>
/// <param name="Spec">What to create.</param>
public sealed record CreateVmRequest(ApiVmSpec Spec) : ApiRequest;

/// <summary>Created -> Running.</summary>
/// <param name="Name">The VM.</param>
public sealed record StartVmRequest(string Name) : ApiRequest;

/// <summary>Running -> Paused (every vCPU parked outside the guest).</summary>
/// <param name="Name">The VM.</param>
public sealed record PauseVmRequest(string Name) : ApiRequest;

/// <summary>Paused -> Running.</summary>
/// <param name="Name">The VM.</param>
public sealed record ResumeVmRequest(string Name) : ApiRequest;

/// <summary>Tears the VM down (it stays listed as Stopped with its outcome until destroyed).</summary>
/// <param name="Name">The VM.</param>
public sealed record StopVmRequest(string Name) : ApiRequest;

/// <summary>Tears the VM down if it still runs and forgets it, freeing its name (also for a Lost VM).</summary>
/// <param name="Name">The VM.</param>
public sealed record DestroyVmRequest(string Name) : ApiRequest;
