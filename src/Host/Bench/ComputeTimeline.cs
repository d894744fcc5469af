namespace Actorvisor.Host.Bench;

/// <summary>
/// The compute tasks' progress over one run of `bench asyncpf-guest`: owns samples of (seconds since start, units done
/// by all compute tasks), taken from guest memory while the guest runs, and gives the units done by any moment.
/// </summary>
public sealed class ComputeTimeline
{
    private readonly List<(double Seconds, ulong Units)> _samples = [(0, 0)];

    /// <summary>Samples taken (the start included).</summary>
    public int Count => _samples.Count;

    /// <summary>The time of the last sample.</summary>
    public double LastSeconds => _samples[^1].Seconds;

    /// <summary>Records that <paramref name="units"/> were done by <paramref name="seconds"/> (in time order).</summary>
    public void Add(double seconds, ulong units)
    {
        if (seconds < _samples[^1].Seconds) throw new ArgumentOutOfRangeException(nameof(seconds), seconds, "samples must come in time order");
        _samples.Add((seconds, units));
    }

    /// <summary>
    /// Units done by <paramref name="seconds"/>: linear between the samples around it (the tasks compute at a steady
    /// rate between two samples 10 ms apart).
    /// </summary>
    /// <exception cref="InvalidOperationException">no sample reaches that far.</exception>
    public double UnitsAt(double seconds)
    {
        if (seconds > _samples[^1].Seconds) throw new InvalidOperationException($"sampled up to {_samples[^1].Seconds:0.000} s only, not {seconds:0.000} s");
        int after = _samples.FindIndex(s => s.Seconds >= seconds);
        if (after == 0) return _samples[0].Units;
        var (t0, u0) = _samples[after - 1];
        var (t1, u1) = _samples[after];
        return t1 == t0 ? u1 : u0 + (u1 - (double)u0) * (seconds - t0) / (t1 - t0);
    }
}
