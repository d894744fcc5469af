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
public sealed record VmSpec(string Name, int VcpuCount, ulong MemoryBytes, Func<VmBuildContext, VmParts> Build, string Description = "")
{
    /// <summary>The longest accepted name.</summary>
    public const int MaxNameLength = 64;

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
        return null;
    }
}
