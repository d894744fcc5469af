namespace Actorvisor.Host.Scenarios.Language;

/// <summary>How a VM can end.</summary>
public enum OutcomeKind
{
    /// <summary>The guest wrote a result code to the debug-exit port.</summary>
    Exited,
    /// <summary>Every vCPU halted with nothing to wake it.</summary>
    Halted,
    /// <summary>A stop or destroy was requested.</summary>
    Stopped,
    /// <summary>The guest reset the machine (the i8042 reset command, a triple fault where it means reboot).</summary>
    Reset,
    /// <summary>A guest fault, a crashed device or a crashed vCPU thread failed the VM.</summary>
    Failed,
}
