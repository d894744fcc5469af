using System.Collections.Concurrent;
using Actorvisor.Hardware.Lazy;

namespace Actorvisor.Hardware.Tests.Lazy;

/// <summary>Passes every fault on to a real sink and keeps a copy, so tests can check what the reader delivered.</summary>
internal sealed class RecordingSink(IPageFaultSink inner) : IPageFaultSink
{
    public ConcurrentQueue<PageFault> Faults { get; } = new();

    public void OnPageFault(LazyGuestMemory region, PageFault fault)
    {
        Faults.Enqueue(fault);
        inner.OnPageFault(region, fault);
    }
}
