using Actorvisor.Hardware.Accel;
using Actorvisor.Hardware.Vfio;

namespace Actorvisor.Actors.Vm;

/// <summary>
/// What to create: a name, the resources the node reserves for it, and how to build its hardware (on the
/// VmActor, with the accelerator the caller chose). <see cref="Build"/> must either return every part or
/// release what it allocated and throw.
/// </summary>
/// <param name="Name">Unique on the node; letters, digits, '-', '_' and '.'.</param>
/// <param name="VcpuCount">Number of vCPUs (reserved against the node's capacity).</param>
/// <param name="MemoryBytes">Guest RAM in bytes (reserved against the node's capacity).</param>
/// <param name="Build">Builds the hardware.</param>
/// <param name="Description">What runs in it (shown by describe), e.g. "hello guest on software accelerator".</param>
public sealed record VmActorSpec(string Name, int VcpuCount, ulong MemoryBytes, Func<VmBuildContext, VmParts> Build, string Description = "")
{
    /// <summary>The longest accepted name.</summary>
    public const int MaxNameLength = 64;

    /// <summary>
    /// VFIO group or device files (e.g. "/dev/vfio/12", "/dev/vfio/devices/vfio0") attached to the VM's KVM-VFIO
    /// device while it is built; one that cannot be attached fails the creation with
    /// <see cref="VmError.VfioRefused"/> naming it.
    /// </summary>
    public IReadOnlyList<string> VfioFiles { get; init; } = [];

    /// <summary>
    /// What the spec holds open before it is built (an image file opened by the node's resolver): once built the VM owns it
    /// and closes it in its teardown (<see cref="TeardownStep.CloseFds"/>); a build that fails closes it; a node that refuses
    /// the spec (name taken, no capacity) closes it. Null when it holds nothing.
    /// </summary>
    public IDisposable? Holds { get; init; }

    /// <summary>
    /// Creates the VM's KVM-VFIO device; by default <see cref="KvmVfioDevices.Create"/> (the kernel's on KVM, the
    /// runtime's otherwise, both judging files with the real VFIO rules).
    /// </summary>
    public Func<IVirtualMachine, IKvmVfioDevice>? KvmVfioDevice { get; init; }

    /// <summary>Null if the spec is valid, else which field is wrong and why.</summary>
    public string? Validate()
    {
        if (string.IsNullOrEmpty(Name)) return "name: must not be empty";
        if (Name.Length > MaxNameLength) return $"name: '{Name}' is longer than {MaxNameLength} characters";
        var bad = Name.FirstOrDefault(c => !(char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.'));
        if (bad != default) return $"name: '{Name}' contains '{bad}'; use letters, digits, '-', '_' and '.'";
        if (VcpuCount < 1) return $"vcpus: {VcpuCount} is not a positive number of vCPUs";
        if (MemoryBytes == 0) return "memory: must be greater than zero";
        if (Build is null) return "build: no hardware builder given";
        for (int i = 0; i < (VfioFiles?.Count ?? 0); i++)
        {
            var path = VfioFiles![i];
            if (string.IsNullOrEmpty(path) || path[0] != '/') return $"vfio[{i}]: '{path}' is not an absolute path (e.g. /dev/vfio/12)";
            if (VfioFiles.Take(i).Contains(path, StringComparer.Ordinal)) return $"vfio[{i}]: '{path}' is listed twice";
        }
        return null;
    }
}
