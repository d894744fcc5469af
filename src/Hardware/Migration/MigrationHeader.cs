using Actorvisor.Hardware.Accel;
using Actorvisor.Hardware.Snapshots;
using Actorvisor.Hardware.X86;

namespace Actorvisor.Hardware.Migration;

/// <summary>
/// What a migration stream starts with: the protocol version, the VM's name, its accelerator kind, image and machine
/// platform, its vCPU count, its memory layout and whether it may end by post-copy (then the target's memslot 0 is lazy
/// memory from the start). The target checks it (version, accelerator, room) and allocates the memory
/// before any page arrives.
/// </summary>
public sealed record MigrationHeader
{
    /// <summary>The version of the stream format this code writes and reads.</summary>
    public const uint CurrentVersion = 2;

    private const string Tag = "AVMG";

    /// <summary>The migrating VM's name.</summary>
    public required string VmName { get; init; }

    /// <summary>The accelerator the vCPU and platform states are of.</summary>
    public required AcceleratorKind Accelerator { get; init; }

    /// <summary>The image the VM runs (its name).</summary>
    public required string Image { get; init; }

    /// <summary>The platform the machine was built as (the target assembles the same one, as a snapshot restore does).</summary>
    public GuestPlatform Platform { get; init; } = GuestPlatform.Minimal;

    /// <summary>
    /// True if the source may switch over by post-copy: the target then holds memslot 0 as userfaultfd-lazy memory,
    /// and the source sends zero pages in its first pass too (the lazy memory has no page until one is installed).
    /// </summary>
    public bool PostCopy { get; init; }

    /// <summary>Number of vCPUs.</summary>
    public required int VcpuCount { get; init; }

    /// <summary>Guest memory by memslot; memslot 0 first, at guest-physical 0.</summary>
    public required IReadOnlyList<MigrationRegionLayout> Memory { get; init; }

    /// <summary>Bytes of guest memory.</summary>
    public ulong MemoryBytes => Memory.Aggregate(0UL, (sum, m) => sum + m.Size);

    /// <summary>The header's bytes (a tagged, versioned state blob).</summary>
    public byte[] Encode()
    {
        var w = new StateBlobWriter(Tag, CurrentVersion);
        w.Bytes(System.Text.Encoding.UTF8.GetBytes(VmName));
        w.U32((uint)Accelerator);
        w.Bytes(System.Text.Encoding.UTF8.GetBytes(Image));
        w.U32((uint)Platform);
        w.U32(PostCopy ? 1u : 0u);
        w.U32((uint)VcpuCount);
        w.U32((uint)Memory.Count);
        foreach (var region in Memory)
        {
            w.U32(region.Slot);
            w.U64(region.GuestPhysicalAddress);
            w.U64(region.Size);
        }
        return w.ToArray();
    }

    /// <summary>Reads a header <see cref="Encode"/> wrote.</summary>
    /// <exception cref="FormatException">not a migration header, another version, or a malformed one.</exception>
    public static MigrationHeader Decode(ReadOnlySpan<byte> bytes)
    {
        var r = new StateBlobReader(bytes, Tag, CurrentVersion, "migration header");
        var name = System.Text.Encoding.UTF8.GetString(r.Bytes());
        uint accelerator = r.U32();
        if (!Enum.IsDefined((AcceleratorKind)accelerator)) throw new FormatException($"migration header: unknown accelerator kind {accelerator}");
        var image = System.Text.Encoding.UTF8.GetString(r.Bytes());
        uint platform = r.U32();
        if (!Enum.IsDefined((GuestPlatform)platform)) throw new FormatException($"migration header: unknown machine platform {platform}");
        uint postCopy = r.U32();
        if (postCopy > 1) throw new FormatException($"migration header: post-copy flag {postCopy}");
        uint vcpus = r.U32();
        if (vcpus is 0 or > 1024) throw new FormatException($"migration header: {vcpus} vCPUs");
        uint count = r.U32();
        if (count is 0 or > 64) throw new FormatException($"migration header: {count} memory regions");
        var memory = new List<MigrationRegionLayout>();
        for (uint i = 0; i < count; i++)
        {
            var region = new MigrationRegionLayout(r.U32(), r.U64(), r.U64());
            if (region.Size == 0 || !Native.PageSize.IsAligned(region.Size) || !Native.PageSize.IsAligned(region.GuestPhysicalAddress))
                throw new FormatException($"migration header: memslot {region.Slot} of 0x{region.Size:x} bytes at 0x{region.GuestPhysicalAddress:x} is not page aligned");
            memory.Add(region);
        }
        r.End();
        if (memory[0].Slot != 0 || memory[0].GuestPhysicalAddress != 0) throw new FormatException("migration header: the first region is not memslot 0 at guest-physical 0");
        return new MigrationHeader
        {
            VmName = name, Accelerator = (AcceleratorKind)accelerator, Image = image, Platform = (GuestPlatform)platform, PostCopy = postCopy == 1,
            VcpuCount = (int)vcpus, Memory = memory,
        };
    }
}
