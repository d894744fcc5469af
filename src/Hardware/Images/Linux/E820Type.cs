namespace Actorvisor.Hardware.Images.Linux;

/// <summary>The type of an e820 memory map entry (the BIOS INT 15h E820 convention Linux reads from boot_params).</summary>
public enum E820Type : uint
{
    /// <summary>Usable RAM.</summary>
    Ram = 1,
    /// <summary>Reserved: not RAM the OS may use.</summary>
    Reserved = 2,
}
