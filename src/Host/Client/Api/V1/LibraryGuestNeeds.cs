namespace Actorvisor.Host.Api.V1;

/// <summary>A guest of the nodes' library, by the name a spec's image gives, and what a VM needs to boot it.</summary>
/// <param name="Name">Its name (e.g. "hello").</param>
/// <param name="Vcpus">The fewest vCPUs it runs on.</param>
/// <param name="MinimumMemoryBytes">The least guest RAM it runs in.</param>
public sealed record LibraryGuestNeeds(string Name, int Vcpus, ulong MinimumMemoryBytes);
