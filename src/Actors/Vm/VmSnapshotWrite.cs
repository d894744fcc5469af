using System.Diagnostics;
using Actorvisor.Hardware.Snapshots;
using Akka.Actor;

namespace Actorvisor.Actors.Vm;

/// <summary>
/// One snapshot a VmActor is taking: owns the request, who asked, and the background write of the files (the
/// guest's memory is read off the actor's thread while the VM stays Paused). Its task ends with
/// <see cref="SnapshotWriteEnded"/> to the VmActor; <see cref="WaitForWrite"/> lets a VmActor that is being stopped
/// wait for it before its memory is unmapped.
/// </summary>
internal sealed class VmSnapshotWrite(SnapshotVm request, IActorRef requester, LiveData live, VmState state)
{
    /// <summary>The state the VM was in (Created or Paused) and returns to.</summary>
    public VmState State { get; } = state;

    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private Task? _write;

    /// <summary>The request.</summary>
    public SnapshotVm Request { get; } = request;

    /// <summary>Who asked.</summary>
    public IActorRef Requester { get; } = requester;

    /// <summary>The VM's live data (of the state it returns to).</summary>
    public LiveData Live { get; } = live;

    /// <summary>The fan-out collecting the vCPU states, while it runs.</summary>
    public FanOut? VcpuStates { get; set; }

    /// <summary>Time since the request arrived.</summary>
    public TimeSpan Elapsed => _clock.Elapsed;

    /// <summary>Starts writing <paramref name="content"/> on a pool thread; <paramref name="self"/> gets <see cref="SnapshotWriteEnded"/>.</summary>
    public void Start(SnapshotContent content, string vmName, IActorRef self)
    {
        var progressTo = Request.ProgressTo;
        var writer = new SnapshotWriter
        {
            Progress = progressTo is null ? null : (done, total) => progressTo.Tell(new VmSnapshotProgress(vmName, done, total)),
        };
        _write = Task.Run(() =>
        {
            try
            {
                self.Tell(new SnapshotWriteEnded(writer.Write(Request.Directory, content), null));
            }
            catch (Exception e)
            {
                self.Tell(new SnapshotWriteEnded(null, e.Message));
            }
        });
    }

    /// <summary>Waits up to <paramref name="timeout"/> for the write to end (true if it did, or never started).</summary>
    public bool WaitForWrite(TimeSpan timeout) => _write is null || _write.Wait(timeout);
}

/// <summary>A snapshot write ended: <paramref name="Result"/>, or the <paramref name="Error"/> that stopped it.</summary>
internal sealed record SnapshotWriteEnded(SnapshotWriter.Result? Result, string? Error);
