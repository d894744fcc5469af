namespace Actorvisor.Hardware.Apic;

/// <summary>The LVT timer's mode (bits 18:17).</summary>
public enum ApicTimerMode
{
    /// <summary>Counts down once from the initial count and raises the vector at zero.</summary>
    OneShot = 0,
    /// <summary>Raises the vector at zero and reloads the initial count.</summary>
    Periodic = 1,
    /// <summary>TSC deadline: not modelled; the timer does not run in this mode.</summary>
    TscDeadline = 2,
}
