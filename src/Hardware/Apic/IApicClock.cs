namespace Actorvisor.Hardware.Apic;

/// <summary>
/// The time base and one-shot alarms of an APIC timer: the host's clock and timers in production
/// (<see cref="SystemApicClock"/>), a clock the test advances by hand in tests.
/// </summary>
public interface IApicClock
{
    /// <summary>Monotonic time in nanoseconds.</summary>
    long NowNanoseconds { get; }

    /// <summary>
    /// Runs <paramref name="callback"/> once, on some thread, no earlier than <paramref name="dueNanoseconds"/>
    /// (on the <see cref="NowNanoseconds"/> scale), and never before this call returns (the APIC schedules while
    /// holding its lock). Disposing the result cancels it if it has not run yet.
    /// </summary>
    IDisposable Schedule(long dueNanoseconds, Action callback);
}
