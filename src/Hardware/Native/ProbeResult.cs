namespace Actorvisor.Hardware.Native;

/// <summary>The outcome of one host probe: whether the process has the thing, and what was seen (the errno, the limit).</summary>
public sealed record ProbeResult(bool Available, string Detail)
{
    /// <summary>The process has it; <paramref name="detail"/> says what was seen.</summary>
    public static ProbeResult Yes(string detail) => new(true, detail);

    /// <summary>The process lacks it; <paramref name="detail"/> says why (the errno and its meaning).</summary>
    public static ProbeResult No(string detail) => new(false, detail);
}
