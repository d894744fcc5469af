namespace Actorvisor.Host.Api.V1;

/// <summary>
/// What a client asks for when it creates a VM. Checked field by field by <see cref="ApiValidator"/>.
/// </summary>
/// <param name="Name">Unique in the cluster: 1..64 of letters, digits, '-', '_' and '.'.</param>
/// <param name="Vcpus">Number of vCPUs (1..the hardware layer's maximum; at least what the image needs).</param>
/// <param name="MemoryBytes">Guest RAM in bytes: a multiple of 4 KiB, 1 MiB at least.</param>
/// <param name="Image">
/// A guest from the library that every node ships (e.g. "hello"; see <c>GuestCatalog</c>), or the path of a
/// flat or ELF64 image file on the node (absolute, or relative to the node's data directory's images folder).
/// </param>
/// <param name="BootMode">"real", "protected" or "long"; null means the image's own mode.</param>
/// <param name="Node">The node to create it on (its configured name); null lets placement choose.</param>
public sealed record ApiVmSpec(string Name, int Vcpus, ulong MemoryBytes, string Image, string? BootMode = null, string? Node = null);
