namespace Actorvisor.Hardware.Lazy;

/// <summary>A page-fault sink that fills every fault from one backing store, and says which (a snapshot of its region reads missing pages there).</summary>
public interface IStoreBackedFaultSink : IPageFaultSink
{
    /// <summary>The store the sink fills pages from.</summary>
    IBackingStore Store { get; }
}
