using Actorvisor.Hardware.Accel;
using Actorvisor.Hardware.Lazy;
using Actorvisor.Hardware.Machines;

namespace Actorvisor.Host.Scenarios.Language;

/// <summary>A VM the scenario may create: which guest it boots, with what resources, on which node and accelerator.</summary>
/// <param name="Name">The VM's name on its node.</param>
/// <param name="Node">The node it is created on.</param>
/// <param name="Guest">The guest program.</param>
/// <param name="MemoryBytes">Guest RAM (null: the larger of 32 MiB and what the guest needs).</param>
/// <param name="Vcpus">vCPU count (null: as many as the guest needs).</param>
/// <param name="Accelerator">auto, software or kvm.</param>
/// <param name="Devices">Extra devices.</param>
/// <param name="Location">Where it was declared.</param>
public sealed record VmDeclaration(
    string Name,
    string Node,
    GuestDeclaration Guest,
    ulong? MemoryBytes,
    int? Vcpus,
    AcceleratorPreference Accelerator,
    IReadOnlyList<DeviceDeclaration> Devices,
    SourceLocation Location)
{
    /// <summary>VFIO files (absolute paths) attached while the VM is created; one the VM refuses fails the create.</summary>
    public IReadOnlyList<string> VfioFiles { get; init; } = [];

    /// <summary>True if the file names the VM's node; a VM on a cluster node without one is placed by the cluster.</summary>
    public bool Pinned { get; init; } = true;

    /// <summary>
    /// The restart policy (YAML <c>restart: never | on-failure | always</c>, default never): how its node restarts it when
    /// it ends on its own, and recreates it when the node comes back. Cluster nodes only (their nodes keep it).
    /// </summary>
    public Actorvisor.Actors.Registry.VmRestartPolicy Restart { get; init; } = Actorvisor.Actors.Registry.VmRestartPolicy.Never;

    /// <summary>
    /// Managed save (YAML <c>snapshot-on-stop: true</c>, default false): its node snapshots it when it stops gracefully
    /// and restores it when it starts again. Cluster nodes only (their nodes keep it).
    /// </summary>
    public bool SnapshotOnStop { get; init; }

    /// <summary>
    /// The most CPU time its vCPUs may use together, in CPUs (a cgroup v2 cpu.max where the node has one), or null
    /// for no limit.
    /// </summary>
    public double? CpuLimit { get; init; }

    /// <summary>
    /// Virtio-blk disks (YAML <c>disks: [FILE[,ro], ...]</c>), disk i the guest's virtio-mmio device i: raw images inside
    /// the scenario's folder (the parser refuses a path that leaves it), each path here absolute.
    /// </summary>
    public IReadOnlyList<VirtioDiskSpec> Disks { get; init; } = [];

    /// <summary>Lazy guest memory above the VM's RAM, or null for none.</summary>
    public LazyMemoryDeclaration? LazyMemory { get; init; }

    /// <summary>
    /// The machine to build: the guest assembled, RAM as declared or else the larger of 32 MiB and what the
    /// guest needs (rounded up to 4 KiB), the declared vCPU count or else the guest's, and the lazy memory (if
    /// declared) served by <paramref name="lazyStore"/> (null: a zero store, enough to check the spec).
    /// </summary>
    public MachineSpec ToMachineSpec(IBackingStore? lazyStore = null)
    {
        var image = Guest.Build();
        ulong needed = (image.MinimumMemoryBytes + 0xfff) & ~0xfffUL;
        return new MachineSpec
        {
            Image = image,
            MemoryBytes = MemoryBytes ?? Math.Max(MachineSpec.DefaultMemoryBytes, needed),
            VcpuCount = Vcpus,
            LazyMemory = LazyMemory is { } lazy ? new LazyMemorySpec(lazy.Address, lazy.Size, lazyStore ?? new ZeroBackingStore()) : null,
            Disks = Disks,
        };
    }

    /// <summary>The device called <paramref name="name"/>, or null.</summary>
    public DeviceDeclaration? FindDevice(string name) => Devices.FirstOrDefault(d => d.Name == name);
}
