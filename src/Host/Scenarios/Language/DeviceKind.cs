namespace Actorvisor.Host.Scenarios.Language;

/// <summary>Devices a scenario can add to a VM beyond the built-in UART and debug-exit port.</summary>
public enum DeviceKind
{
    /// <summary>
    /// A port-I/O device that accepts and counts guest accesses until a <c>crash-device</c> fault arms it;
    /// its next access then throws on the vCPU thread, as a buggy device would.
    /// </summary>
    CrashablePort,
}
