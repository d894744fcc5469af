namespace Actorvisor.Hardware.Native;

/// <summary>The 4 KiB page that guest memory, memslots and SPTEs are measured in.</summary>
public static class PageSize
{
    /// <summary>4096.</summary>
    public const ulong Bytes = 4096;
    /// <summary>log2(4096).</summary>
    public const int Shift = 12;
    /// <summary>True if <paramref name="value"/> is a multiple of 4 KiB.</summary>
    public static bool IsAligned(ulong value) => (value & (Bytes - 1)) == 0;
    /// <summary>Rounds <paramref name="value"/> up to a multiple of 4 KiB.</summary>
    public static ulong RoundUp(ulong value) => (value + Bytes - 1) & ~(Bytes - 1);
}
