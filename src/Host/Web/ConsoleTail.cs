namespace Actorvisor.Host.Web;

/// <summary>The answer to <c>GET /api/v1/vms/{name}/console</c>: the end of a VM's serial console as the node keeps it.</summary>
/// <param name="Vm">The VM.</param>
/// <param name="Text">The last bytes, decoded as UTF-8.</param>
/// <param name="Bytes">How many bytes <paramref name="Text"/> holds.</param>
/// <param name="ReceivedBytes">How many bytes the node sent (its backlog keeps the last 64 KiB, and live output).</param>
/// <param name="Ended">Why the console ended (the VM stopped or was destroyed), or null while it runs.</param>
public sealed record ConsoleTail(string Vm, string Text, int Bytes, long ReceivedBytes, string? Ended);
