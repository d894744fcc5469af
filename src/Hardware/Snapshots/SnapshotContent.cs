using Actorvisor.Hardware.Accel;
using Actorvisor.Hardware.Devices;
using Actorvisor.Hardware.Devices.Virtio;
using Actorvisor.Hardware.Machines;
using Actorvisor.Hardware.X86;

namespace Actorvisor.Hardware.Snapshots;

/// <summary>
/// Everything a snapshot holds, gathered from a stopped or paused VM: the vCPU and platform state blobs, the
/// stateful devices (virtio transports included), the disks' identities and the memory regions (read while the files are
/// written, so no vCPU may run meanwhile).
/// </summary>
public sealed record SnapshotContent
{
    /// <summary>The accelerator kind the states are of.</summary>
    public required AcceleratorKind Accelerator { get; init; }

    /// <summary>The VM's name.</summary>
    public required string VmName { get; init; }

    /// <summary>What runs in it (the image's name).</summary>
    public required string Image { get; init; }

    /// <summary>Each vCPU's <c>SaveState</c>, by index.</summary>
    public required IReadOnlyList<byte[]> VcpuStates { get; init; }

    /// <summary>The platform the machine was built as (a restore builds the same).</summary>
    public GuestPlatform Platform { get; init; } = GuestPlatform.Minimal;

    /// <summary>The VM's <c>SavePlatformState</c>.</summary>
    public required byte[] PlatformState { get; init; }

    /// <summary>The devices whose state is saved (read when the snapshot is written).</summary>
    public required IReadOnlyList<IStatefulDevice> Devices { get; init; }

    /// <summary>The virtio-blk disks, by device (their transports' state is among <see cref="Devices"/>).</summary>
    public IReadOnlyList<SnapshotDiskEntry> Disks { get; init; } = [];

    /// <summary>Guest memory, by memslot.</summary>
    public required IReadOnlyList<SnapshotMemoryRegion> Memory { get; init; }

    /// <summary>Bytes of guest memory (what a progress bar counts).</summary>
    public ulong MemoryBytes => Memory.Aggregate(0UL, (sum, m) => sum + m.Size);

    /// <summary>
    /// The content of <paramref name="parts"/> for VM <paramref name="vmName"/>: its memory regions and stateful devices,
    /// the platform state, and <paramref name="vcpuStates"/> (gathered on the vCPU threads by the caller) or, without
    /// them, each vCPU's state read here (the caller guarantees no vCPU runs).
    /// </summary>
    public static SnapshotContent Of(MachineParts parts, string vmName, IReadOnlyList<byte[]>? vcpuStates = null)
    {
        ArgumentNullException.ThrowIfNull(parts);
        return new SnapshotContent
        {
            Accelerator = parts.Vm.Kind,
            VmName = vmName,
            Platform = parts.Platform,
            Image = parts.Spec.Image is RestoredGuestImage restored ? restored.OriginalImage : parts.Spec.Image.Name,
            VcpuStates = vcpuStates ?? [.. parts.Vcpus.Select(v => v.SaveState())],
            PlatformState = parts.Vm.SavePlatformState(),
            Devices = parts.StatefulDevices,
            Disks = [.. parts.Virtio.Transports.Select(t => t.Device).OfType<VirtioBlock>().Select(DiskOf)],
            Memory = parts.MemoryRegions,
        };
    }

    // The disk's writes made durable first, so the identity recorded is that of the image the guest's state goes with.
    private static SnapshotDiskEntry DiskOf(VirtioBlock disk)
    {
        disk.FlushImage();
        var identity = disk.ImageIdentity;
        return new SnapshotDiskEntry(disk.Name, Path.GetFullPath(disk.Path), disk.ReadOnly, identity.Bytes, identity.ModifiedUnixNanoseconds);
    }
}
