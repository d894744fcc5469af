namespace Actorvisor.Hardware.Lazy;

/// <summary>
/// Receives the page faults of lazy guest memory. The async-PF machinery implements it by handing each fault
/// to a worker; <see cref="SynchronousPageResolver"/> resolves each fault before returning.
/// </summary>
public interface IPageFaultSink
{
    /// <summary>
    /// Called on the region's fault reader thread, once per fault message (two threads faulting on one page
    /// give two calls; the second install then answers <see cref="PageInstall.AlreadyPresent"/>).
    /// Must not touch the region's memory itself (that thread would fault on its own reader and hang).
    /// Returning without installing the page leaves the faulting thread blocked until someone installs it.
    /// </summary>
    void OnPageFault(LazyGuestMemory region, PageFault fault);
}
