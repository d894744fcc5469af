using Actorvisor.Hardware.Apic;

namespace Actorvisor.Hardware.Tests.Apic;

/// <summary>An APIC clock the test moves by hand: alarms run on the test's thread when it advances past them.</summary>
internal sealed class FakeApicClock : IApicClock
{
    private readonly List<Alarm> _alarms = [];
    private long _now = 1_000_000;

    public long NowNanoseconds => _now;

    public int PendingAlarms => _alarms.Count(a => !a.Cancelled);

    public IDisposable Schedule(long dueNanoseconds, Action callback)
    {
        var alarm = new Alarm(dueNanoseconds, callback);
        _alarms.Add(alarm);
        return alarm;
    }

    /// <summary>Moves time forward by <paramref name="nanoseconds"/>, running each alarm at its due time, in order (an on-time host timer).</summary>
    public void Advance(long nanoseconds)
    {
        long target = _now + nanoseconds;
        while (NextDue(target) is { } alarm)
        {
            _now = Math.Max(_now, alarm.Due);
            Run(alarm);
        }
        _now = target;
    }

    /// <summary>Moves time forward by <paramref name="nanoseconds"/> first and only then runs the alarms that came due (a late host timer).</summary>
    public void AdvanceLate(long nanoseconds)
    {
        _now += nanoseconds;
        while (NextDue(_now) is { } alarm) Run(alarm);
    }

    private Alarm? NextDue(long until) => _alarms.Where(a => !a.Cancelled && a.Due <= until).OrderBy(a => a.Due).FirstOrDefault();

    private void Run(Alarm alarm)
    {
        _alarms.Remove(alarm);
        alarm.Callback();
    }

    private sealed class Alarm(long due, Action callback) : IDisposable
    {
        public long Due { get; } = due;
        public Action Callback { get; } = callback;
        public bool Cancelled { get; private set; }
        public void Dispose() => Cancelled = true;
    }
}
