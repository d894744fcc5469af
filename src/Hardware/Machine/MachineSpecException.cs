namespace Actorvisor.Hardware.Machines;

/// <summary>An invalid <see cref="MachineSpec"/>; <see cref="ArgumentException.ParamName"/> names the field.</summary>
public sealed class MachineSpecException(string field, string message)
    : ArgumentException($"MachineSpec.{field}: {message}", field);
