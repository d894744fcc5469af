namespace Actorvisor.Hardware.Images.Linux;

/// <summary>One e820 range: <paramref name="Size"/> bytes of <paramref name="Type"/> at guest-physical <paramref name="Address"/>.</summary>
public readonly record struct E820Entry(ulong Address, ulong Size, E820Type Type)
{
    /// <summary>Bytes of one entry in boot_params.e820_table: addr u64, size u64, type u32.</summary>
    public const int EncodedSize = 20;

    /// <summary>One past the last byte.</summary>
    public ulong End => Address + Size;
}
