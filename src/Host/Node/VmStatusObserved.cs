using Actorvisor.Host.Api.V1;

namespace Actorvisor.Host.Node;

/// <summary>
/// A <see cref="VmWatcher"/> saw VM <paramref name="Vm"/> reach <paramref name="Status"/> (with <paramref name="Outcome"/>
/// once it ended; null keeps the record's outcome); its agent updates the VM's record, which it alone owns.
/// </summary>
public sealed record VmStatusObserved(string Vm, VmStatus Status, string? Outcome);
