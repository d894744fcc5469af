using Actorvisor.Hardware.Native;

namespace Actorvisor.Hardware.Mmu;

/// <summary>A range of guest frame numbers: <paramref name="First"/> and the <paramref name="Count"/> pages after it.</summary>
public readonly record struct GfnRange(ulong First, ulong Count)
{
    /// <summary>One past the last gfn.</summary>
    public ulong End => First + Count;

    /// <summary>The pages covering guest-physical bytes [<paramref name="gpa"/>, <paramref name="gpa"/> + <paramref name="size"/>).</summary>
    /// <exception cref="ArgumentOutOfRangeException">the range wraps around.</exception>
    public static GfnRange FromGpa(ulong gpa, ulong size)
    {
        if (gpa + size < gpa) throw new ArgumentOutOfRangeException(nameof(size), $"range 0x{gpa:x}+0x{size:x} wraps around");
        if (size == 0) return new GfnRange(gpa >> PageSize.Shift, 0);
        ulong first = gpa >> PageSize.Shift;
        ulong last = (gpa + size - 1) >> PageSize.Shift;
        return new GfnRange(first, last - first + 1);
    }

    /// <summary>Every gfn.</summary>
    public static GfnRange All => new(0, ulong.MaxValue);

    /// <summary>True if <paramref name="gfn"/> is in the range.</summary>
    public bool Contains(ulong gfn) => gfn - First < Count;

    /// <inheritdoc />
    public override string ToString() => $"gfn [0x{First:x}, 0x{End:x})";
}
