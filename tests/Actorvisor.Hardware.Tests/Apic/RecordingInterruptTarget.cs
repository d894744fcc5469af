using System.Collections.Concurrent;
using Actorvisor.Hardware.Apic;

namespace Actorvisor.Hardware.Tests.Apic;

/// <summary>A vCPU stand-in that records the vectors its APIC raises, optionally answering each with an EOI (a guest handler).</summary>
internal sealed class RecordingInterruptTarget : IInterruptTarget
{
    private readonly ConcurrentQueue<int> _vectors = new();
    private TaskCompletionSource? _reached;
    private int _awaited;

    /// <summary>The APIC to EOI at once for each vector, or null to leave them in service.</summary>
    public LocalApic? EoiOn { get; set; }

    public int[] Vectors => [.. _vectors];

    public void RaiseInterrupt(int vector)
    {
        _vectors.Enqueue(vector);
        EoiOn?.WriteRegister(ApicRegister.Eoi, 0);
        if (_reached is { } tcs && _vectors.Count >= Volatile.Read(ref _awaited)) tcs.TrySetResult();
    }

    /// <summary>Completes once <paramref name="count"/> vectors have been raised.</summary>
    public Task WhenCount(int count)
    {
        Volatile.Write(ref _awaited, count);
        var tcs = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _reached = tcs;
        if (_vectors.Count >= count) tcs.TrySetResult();
        return tcs.Task;
    }
}
