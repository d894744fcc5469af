namespace Actorvisor.Host.Api.V1;

/// <summary>
/// What a client asks for when it creates a VM. Checked field by field by <see cref="ApiValidator"/>.
/// </summary>
/// <param name="Name">Unique in the cluster: 1..64 of letters, digits, '-', '_' and '.'.</param>
/// <param name="Vcpus">Number of vCPUs (1..the hardware layer's maximum; at least what the image needs).</param>
/// <param name="MemoryBytes">Guest RAM in bytes: a multiple of 4 KiB, 1 MiB at least.</param>
/// <param name="Image">
/// A guest from the library that every node ships (e.g. "hello"; see <c>GuestCatalog</c>), or the path of a
/// flat, ELF64, boot-sector or multiboot image file on the node (absolute, or relative to the node's data directory's images folder).
/// </param>
/// <param name="BootMode">"real", "protected" or "long"; null means the image's own mode.</param>
/// <param name="Node">The node to create it on (its configured name); null lets placement choose.</param>
/// <param name="Format">
/// For an image file: "flat", "elf", "bootsector" or "multiboot"; null detects it from the file (a multiboot header,
/// the ELF magic, 512 bytes ending in 55 AA, else flat).
/// </param>
/// <param name="CommandLine">A multiboot kernel's command line; null for none.</param>
/// <param name="RestoreFrom">
/// Set (by the directory, for a <see cref="RestoreVmRequest"/>) to build the VM from this snapshot of the node's snapshot
/// directories instead of an image; <paramref name="Vcpus"/> and <paramref name="MemoryBytes"/> then come from the snapshot.
/// </param>
/// <param name="RestoreMode">How a restore brings memory back: "eager", "lazy" or "mmap".</param>
/// <param name="Modules">
/// A multiboot kernel's modules, each "FILE[=STRING]": FILE inside the node's image directories like the image, STRING
/// the module's string (default FILE); null for none.
/// </param>
/// <param name="Restart">
/// The restart policy: "never" (the default; null means it), "on-failure" (restarted when it fails, and started again when its
/// node comes back if it was running or paused) or "always" (restarted whenever it ends on its own, and started whenever its
/// node comes back). The node keeps it with the VM's definition (see docs/architecture.md, "Desired state").
/// </param>
/// <param name="CpuLimit">
/// The most CPU time the VM's vCPU threads may use together, in CPUs (0.5: half of one core), between
/// <see cref="ApiValidator.MinCpuLimit"/> and the VM's vCPU count; null for no limit. Applied through a cgroup v2
/// where the node has one with the cpu controller; a node without says so once at start and runs VMs unlimited.
/// </param>
/// <param name="Disks">
/// Virtio-blk disks, each "FILE[,ro]": a raw image inside the node's image directories (named like the image), read-only
/// with ",ro"; disk i is the guest's virtio-mmio device i. Null for none.
/// </param>
/// <param name="SnapshotOnStop">
/// Managed save: true makes the VM's node, when it stops gracefully (SIGTERM), pause the VM and snapshot it into its
/// snapshot directory before exiting, and restore it from that snapshot (lazily) when it starts again, so that the
/// guest continues; after a kill -9 the VM comes back from the last such snapshot, if it has one (see
/// docs/architecture.md, "Managed save"). Null or false: a node restart is a cold boot, per <paramref name="Restart"/>.
/// </param>
/// <param name="VsockCid">
/// The guest's CID on a virtio-vsock device (3..4294967294), the virtio-mmio device after the disks; null for none. The
/// node makes its Unix socket in its run directory (<c>run/vsock/NAME.sock</c>; host port P is <c>NAME.sock_P</c>).
/// </param>
/// <param name="Nets">
/// Virtio-net cards, each "tap=NAME[,mac=XX:XX:XX:XX:XX:XX]": the node's tap interface NAME (created if it has none),
/// the card's MAC (default: derived from NAME); the cards follow the disks among the virtio-mmio devices. Null for none.
/// </param>
public sealed record ApiVmSpec(string Name, int Vcpus, ulong MemoryBytes, string Image, string? BootMode = null, string? Node = null,
    string? Format = null, string? CommandLine = null, IReadOnlyList<string>? Modules = null, string? Restart = null, double? CpuLimit = null,
    string? RestoreFrom = null, string? RestoreMode = null, IReadOnlyList<string>? Disks = null, bool? SnapshotOnStop = null,
    ulong? VsockCid = null, IReadOnlyList<string>? Nets = null);
