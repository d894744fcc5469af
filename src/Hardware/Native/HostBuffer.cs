using System.Runtime.InteropServices;

namespace Actorvisor.Hardware.Native;

/// <summary>
/// A run of host memory outside the managed heap (a piece of guest RAM's mapping) that a vectored read fills or a
/// vectored write sends: laid out as the kernel's <c>struct iovec</c> (base, length), so an array of them is the iovec
/// array of preadv(2)/pwritev(2). Whoever builds one has checked that the range is memory it may touch.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
public readonly struct HostBuffer
{
    /// <summary>A buffer of <paramref name="length"/> bytes at host address <paramref name="address"/>.</summary>
    public HostBuffer(nint address, long length)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        Address = address;
        Length = length;
    }

    /// <summary>The first byte's host address.</summary>
    public nint Address { get; }

    /// <summary>Bytes in the buffer.</summary>
    public long Length { get; }

    /// <summary>The part of this buffer from byte <paramref name="skip"/> on, at most <paramref name="length"/> bytes long.</summary>
    public HostBuffer Slice(long skip, long length)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(skip);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(skip, Length);
        return new HostBuffer(Address + (nint)skip, Math.Min(length, Length - skip));
    }

    /// <inheritdoc />
    public override string ToString() => $"0x{Address:x}+0x{Length:x}";
}
