using Actorvisor.Actors.Memslots;

namespace Actorvisor.Actors.Vm;

/// <summary>What a VM's hardware builder may use from its VmActor.</summary>
/// <param name="VmName">The VM's name.</param>
/// <param name="Console">Where the serial console writes (on vCPU threads); the VmActor publishes it to subscribers.</param>
/// <param name="Memslots">The memslot snapshot devices read guest memory through on vCPU threads.</param>
public sealed record VmBuildContext(string VmName, ConsoleRelay Console, MemslotView Memslots);
