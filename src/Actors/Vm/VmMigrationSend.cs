using Actorvisor.Hardware.Machines;
using Actorvisor.Hardware.Migration;
using Actorvisor.Hardware.Snapshots;
using Akka.Actor;

namespace Actorvisor.Actors.Vm;

/// <summary>
/// One live migration a VmActor is sending: owns the request, who asked, the TCP connection to the target and the
/// thread that runs <see cref="PreCopySource"/> on it (guest memory is read there while the vCPUs run). The thread
/// reaches the vCPUs only through the VmActor: its pause and resume are messages to the actor
/// (<see cref="MigrationPauseWanted"/>, <see cref="MigrationResumeWanted"/>) it waits on. It ends with
/// <see cref="MigrationSendEnded"/> to the VmActor.
/// </summary>
internal sealed class VmMigrationSend : IMigratingVm
{
    /// <summary>How long the migration thread waits for the VmActor to pause or resume the vCPUs (their own deadline is VcpuAckTimeout).</summary>
    private static readonly TimeSpan ActorWait = VmActor.VcpuAckTimeout * 2;

    private readonly IActorRef _self;
    private readonly CancellationTokenSource _cancel = new();
    private Task? _run;

    public VmMigrationSend(MigrateVm request, IActorRef requester, LiveData live, string name, MachineParts machine, IActorRef self)
    {
        Request = request;
        Requester = requester;
        Live = live;
        Name = name;
        Parts = machine;
        _self = self;
    }

    /// <summary>The request.</summary>
    public MigrateVm Request { get; }

    /// <summary>Who asked.</summary>
    public IActorRef Requester { get; }

    /// <summary>The VM's live data (Running), which it returns to if the migration fails.</summary>
    public LiveData Live { get; }

    /// <inheritdoc />
    public string Name { get; }

    /// <inheritdoc />
    public MachineParts Parts { get; }

    /// <summary>True once the vCPUs were paused for the switchover.</summary>
    public bool Paused { get; set; }

    /// <summary>The fan-out pausing or saving the vCPUs, while one runs.</summary>
    public FanOut? Vcpus { get; set; }

    /// <summary>The target as the request named it.</summary>
    public string Target => $"{Request.Host}:{Request.Port}";

    /// <summary>Connects and runs the migration on a thread of its own; the VmActor gets <see cref="MigrationSendEnded"/>.</summary>
    public void Start()
    {
        var progressTo = Request.ProgressTo;
        _run = Task.Factory.StartNew(() =>
        {
            try
            {
                using var client = new System.Net.Sockets.TcpClient { NoDelay = true };
                client.Connect(Request.Host, Request.Port);
                using var channel = new MigrationChannel(Request.Secure is { } secure ? secure(client.GetStream()) : client.GetStream());
                var result = PreCopySource.Run(this, channel, Request.Options, round => progressTo?.Tell(new VmMigrationProgress(Name, round)), _cancel.Token);
                _self.Tell(new MigrationSendEnded(result, null));
            }
            catch (Exception e) when (e is MigrationException or OperationCanceledException or System.Net.Sockets.SocketException or IOException or TimeoutException
                or System.Security.Authentication.AuthenticationException)
            {
                _self.Tell(new MigrationSendEnded(null, e is OperationCanceledException ? "cancelled" : e.Message));
            }
        }, TaskCreationOptions.LongRunning);
    }

    /// <summary>Stops the migration before switchover (the VM ended or is being stopped); it ends with a failure.</summary>
    public void Cancel() => _cancel.Cancel();

    /// <summary>Waits up to <paramref name="timeout"/> for the migration thread to end (true if it did, or never started).</summary>
    public bool WaitForEnd(TimeSpan timeout) => _run is null || _run.Wait(timeout);

    /// <summary>Asks the VmActor to pause the vCPUs and gather their state; waits for it (migration thread).</summary>
    public SnapshotContent Pause()
    {
        var done = new TaskCompletionSource<SnapshotContent>(TaskCreationOptions.RunContinuationsAsynchronously);
        _self.Tell(new MigrationPauseWanted(done));
        return Wait(done.Task, "pause");
    }

    /// <summary>Asks the VmActor to resume the vCPUs; waits for it (migration thread).</summary>
    public void Resume()
    {
        var done = new TaskCompletionSource<SnapshotContent?>(TaskCreationOptions.RunContinuationsAsynchronously);
        _self.Tell(new MigrationResumeWanted(done));
        Wait(done.Task, "resume");
    }

    private static T Wait<T>(Task<T> task, string what)
    {
        try
        {
            if (!task.Wait(ActorWait)) throw new MigrationException($"the VM did not {what} its vCPUs within {ActorWait.TotalSeconds:0} s");
        }
        catch (AggregateException e) when (e.InnerException is MigrationException inner)
        {
            throw inner;
        }
        return task.Result;
    }
}

/// <summary>The migration thread wants the vCPUs paused and the VM's state (completes <paramref name="Done"/>, or faults it with the reason).</summary>
internal sealed record MigrationPauseWanted(TaskCompletionSource<SnapshotContent> Done);

/// <summary>The migration thread wants the vCPUs running again (it failed after the pause).</summary>
internal sealed record MigrationResumeWanted(TaskCompletionSource<SnapshotContent?> Done);

/// <summary>The migration thread ended: switched over with <paramref name="Result"/>, or failed with <paramref name="Error"/>.</summary>
internal sealed record MigrationSendEnded(MigrationResult? Result, string? Error);
