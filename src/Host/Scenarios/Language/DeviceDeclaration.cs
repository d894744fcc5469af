namespace Actorvisor.Host.Scenarios.Language;

/// <summary>An extra device on a VM's bus.</summary>
/// <param name="Name">Unique within the VM; fault steps name it.</param>
/// <param name="Kind">What device.</param>
/// <param name="Port">The I/O port it claims.</param>
/// <param name="Location">Where it was declared.</param>
public sealed record DeviceDeclaration(string Name, DeviceKind Kind, ushort Port, SourceLocation Location);
