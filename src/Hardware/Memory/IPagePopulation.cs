namespace Actorvisor.Hardware.Memory;

/// <summary>
/// Knows, without blocking, which pages of a host mapping are populated: touching a populated page cannot wait
/// for a backing store. Lazy guest RAM implements it (its pages arrive on first touch); a memslot without one is
/// plain memory, populated throughout. The software MMU asks it (<c>SoftMmu.IsPopulated</c>) so that a fault
/// hook can choose between telling the guest "page not present" and blocking the vCPU on the page.
/// </summary>
public interface IPagePopulation
{
    /// <summary>
    /// True if the page holding <paramref name="hostAddress"/> is populated now; false if it is missing, outside
    /// the mapping, or the mapping is being torn down. True stays true until the mapping is torn down.
    /// </summary>
    bool IsPopulated(nint hostAddress);
}
