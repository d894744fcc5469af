using System.Diagnostics;
using Actorvisor.Hardware.Accel;
using Actorvisor.Hardware.Devices;
using Actorvisor.Hardware.Guests;
using Actorvisor.Hardware.Native;

namespace Actorvisor.Host.Bench;

/// <summary>
/// The hold port of `bench asyncpf-guest`'s scheduler guest (<see cref="AsyncPfSchedulerGuest.Build"/> with a hold
/// port): owns when the guest's tasks started and when its walk ended (its writes of 0 and 1, timed on
/// <paramref name="clock"/>), which thread runs the vCPU (the start marker's exit is handled on it) and its scheduler
/// times then, and whether the bench has released the parked walker (what the guest's reads return).
/// </summary>
public sealed class WalkHoldDevice(Stopwatch clock) : IPortIoDevice
{
    /// <summary>The port: free on both platforms the bench uses.</summary>
    public const ushort Port = 0x520;

    private int _released;

    /// <summary>Completes with the clock's seconds when the guest reports its tasks started.</summary>
    public TaskCompletionSource<double> Started { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Completes with the clock's seconds when the walker reports its walk done.</summary>
    public TaskCompletionSource<double> WalkDone { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>The vCPU thread (set before <see cref="Started"/> completes).</summary>
    public ThreadSchedStat? VcpuThread { get; private set; }

    /// <summary>The vCPU thread's scheduler times at the start marker (null if the kernel keeps none; set before <see cref="Started"/> completes).</summary>
    public (double OnCpu, double Queued)? SchedStatAtStart { get; private set; }

    /// <summary>Lets the parked walker run again (its next timer tick reads 1).</summary>
    public void Release() => Volatile.Write(ref _released, 1);

    /// <inheritdoc />
    public string Name => "asyncpf-walk-hold";

    /// <inheritdoc />
    public ExitAction OnPortIo(ushort offset, IoDirection direction, Span<byte> data)
    {
        if (direction == IoDirection.Out && data[0] == 0)
        {
            // Port exits are handled on the thread that runs the vCPU, on both accelerators.
            double now = clock.Elapsed.TotalSeconds;
            var thread = new ThreadSchedStat(Sys.CurrentThreadId());
            SchedStatAtStart = thread.Read();
            VcpuThread = thread;
            Started.TrySetResult(now);
        }
        else if (direction == IoDirection.Out) WalkDone.TrySetResult(clock.Elapsed.TotalSeconds);
        else
        {
            data.Clear();
            data[0] = (byte)Volatile.Read(ref _released);
        }
        return ExitAction.Continue;
    }
}
