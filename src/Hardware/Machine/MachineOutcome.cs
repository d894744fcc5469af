namespace Actorvisor.Hardware.Machines;

/// <summary>How a <see cref="Machine.Run"/> ended.</summary>
public enum MachineOutcome
{
    /// <summary>The guest wrote its result code to the debug-exit port.</summary>
    Exited,
    /// <summary>Every vCPU executed HLT (with interrupts off nothing wakes them).</summary>
    Halted,
    /// <summary>A vCPU hit a fatal exit (shutdown, internal error, failed entry) or its thread failed.</summary>
    Failed,
    /// <summary>The guest was still running when the timeout expired; the vCPUs were kicked out.</summary>
    TimedOut,
    /// <summary>A device other than debug-exit stopped a vCPU's run loop.</summary>
    Stopped,
    /// <summary>The guest reset the machine (the i8042 reset command, or KVM's system reset event), as Linux reboots.</summary>
    Reset,
}
