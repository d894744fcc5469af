namespace Actorvisor.Host.Api.V1;

/// <summary>
/// What the nodes can run, for the checks of a VM spec that depend on it (<see cref="ApiValidator.Spec"/>): the vCPU
/// and memory ranges of the hardware layer and the guests of the library every node ships. The daemon and the CLI
/// build it from the hardware layer; a client without it leaves those checks to the node.
/// </summary>
/// <param name="MaxVcpus">The most vCPUs one VM may have.</param>
/// <param name="MinMemoryBytes">The least guest RAM one VM may have.</param>
/// <param name="MaxMemoryBytes">The most guest RAM one VM may have.</param>
/// <param name="LibraryGuests">The library guests a spec's image may name, in the order the nodes list them.</param>
public sealed record VmSpecLimits(int MaxVcpus, ulong MinMemoryBytes, ulong MaxMemoryBytes, IReadOnlyList<LibraryGuestNeeds> LibraryGuests)
{
    /// <summary>The library guest called <paramref name="name"/> (exact), or null.</summary>
    /// <param name="name">The guest's name.</param>
    public LibraryGuestNeeds? FindGuest(string name) => LibraryGuests.FirstOrDefault(g => g.Name == name);
}
