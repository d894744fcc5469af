namespace Actorvisor.Host.Bench;

/// <summary>
/// The compute tasks' progress over one run of `bench asyncpf-guest`: owns samples of (seconds on the bench's clock,
/// units done by all compute tasks, and the vCPU thread's seconds on a host CPU and waiting on a host run queue so
/// far), from the guest's start marker (no units yet) on, and gives each of them at any moment in between.
/// </summary>
public sealed class ComputeTimeline
{
    private readonly List<Sample> _samples;

    private readonly record struct Sample(double Seconds, double Units, double OnCpu, double Queued);

    /// <summary>
    /// Starts at <paramref name="startSeconds"/>, when the guest's tasks start (0 units), with the vCPU thread's
    /// <paramref name="startSchedStat"/> read then (null: the kernel keeps none; <see cref="HasSchedulerTimes"/> is false).
    /// </summary>
    public ComputeTimeline(double startSeconds, (double OnCpu, double Queued)? startSchedStat)
    {
        HasSchedulerTimes = startSchedStat is not null;
        _samples = [new Sample(startSeconds, 0, startSchedStat?.OnCpu ?? 0, startSchedStat?.Queued ?? 0)];
    }

    /// <summary>Samples taken (the start included).</summary>
    public int Count => _samples.Count;

    /// <summary>The time of the start marker.</summary>
    public double StartSeconds => _samples[0].Seconds;

    /// <summary>The time of the last sample.</summary>
    public double LastSeconds => _samples[^1].Seconds;

    /// <summary>Whether every sample carried the vCPU thread's scheduler times.</summary>
    public bool HasSchedulerTimes { get; private set; }

    /// <summary>
    /// Records that <paramref name="units"/> were done by <paramref name="seconds"/> (in time order, after the start),
    /// with the vCPU thread's <paramref name="schedStat"/> then (null: unknown, <see cref="HasSchedulerTimes"/> turns false).
    /// </summary>
    public void Add(double seconds, ulong units, (double OnCpu, double Queued)? schedStat)
    {
        if (seconds < _samples[^1].Seconds) throw new ArgumentOutOfRangeException(nameof(seconds), seconds, "samples must come in time order");
        if (schedStat is null) HasSchedulerTimes = false;
        _samples.Add(new Sample(seconds, units, schedStat?.OnCpu ?? 0, schedStat?.Queued ?? 0));
    }

    /// <summary>
    /// Units done by <paramref name="seconds"/>: linear between the samples around it (the tasks compute at a steady
    /// rate between two samples 10 ms apart).
    /// </summary>
    /// <exception cref="InvalidOperationException">no sample reaches that far, or the time is before the start.</exception>
    public double UnitsAt(double seconds) => At(seconds, s => s.Units);

    /// <summary>The vCPU thread's seconds waiting on a host run queue from the start to <paramref name="seconds"/> (interpolated likewise).</summary>
    public double QueuedAt(double seconds) => At(seconds, s => s.Queued) - _samples[0].Queued;

    /// <summary>The vCPU thread's seconds on a host CPU from the start to <paramref name="seconds"/> (interpolated likewise).</summary>
    public double OnCpuAt(double seconds) => At(seconds, s => s.OnCpu) - _samples[0].OnCpu;

    private double At(double seconds, Func<Sample, double> value)
    {
        if (seconds > LastSeconds) throw new InvalidOperationException($"sampled up to {LastSeconds:0.000} s only, not {seconds:0.000} s");
        if (seconds < StartSeconds) throw new InvalidOperationException($"{seconds:0.000} s is before the start at {StartSeconds:0.000} s");
        int after = _samples.FindIndex(s => s.Seconds >= seconds);
        if (after == 0) return value(_samples[0]);
        var before = _samples[after - 1];
        var next = _samples[after];
        double v0 = value(before), v1 = value(next);
        return next.Seconds == before.Seconds ? v1 : v0 + (v1 - v0) * (seconds - before.Seconds) / (next.Seconds - before.Seconds);
    }
}
