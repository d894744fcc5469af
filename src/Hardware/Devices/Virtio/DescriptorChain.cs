using Actorvisor.Hardware.Memory;
using Actorvisor.Hardware.Native;

namespace Actorvisor.Hardware.Devices.Virtio;

/// <summary>
/// One request taken from a virtqueue: the head descriptor's index (returned in the used ring) and its buffers,
/// the device-readable ones first, then the device-writable ones, each already checked to lie in guest RAM
/// (writable RAM for the writable ones). Reads and writes address the chain as two byte streams.
/// </summary>
public sealed class DescriptorChain
{
    private readonly GuestPhysicalMemory _memory;

    internal DescriptorChain(GuestPhysicalMemory memory, ushort head, VirtqueueBuffer[] readable, VirtqueueBuffer[] writable)
    {
        _memory = memory;
        Head = head;
        Readable = readable;
        Writable = writable;
        foreach (var b in readable) ReadableLength += b.Length;
        foreach (var b in writable) WritableLength += b.Length;
    }

    /// <summary>The head descriptor's index: the id of this request in the used ring.</summary>
    public ushort Head { get; }

    /// <summary>The device-readable buffers, in chain order.</summary>
    public IReadOnlyList<VirtqueueBuffer> Readable { get; }

    /// <summary>The device-writable buffers, in chain order (after every readable one).</summary>
    public IReadOnlyList<VirtqueueBuffer> Writable { get; }

    /// <summary>Total bytes of the readable buffers.</summary>
    public long ReadableLength { get; }

    /// <summary>Total bytes of the writable buffers.</summary>
    public long WritableLength { get; }

    /// <summary>Copies readable bytes from stream offset <paramref name="offset"/> into <paramref name="destination"/>; returns how many there were.</summary>
    /// <exception cref="GuestMemoryFaultException">guest memory changed under the chain (a slot was removed).</exception>
    public int ReadFrom(long offset, Span<byte> destination)
    {
        int done = 0;
        long skip = offset;
        foreach (var b in Readable)
        {
            if (done == destination.Length) break;
            if (skip >= b.Length) { skip -= b.Length; continue; }
            int n = (int)Math.Min(b.Length - skip, destination.Length - done);
            _memory.Read(b.Address + (ulong)skip, destination.Slice(done, n));
            done += n;
            skip = 0;
        }
        return done;
    }

    /// <summary>Copies <paramref name="source"/> into the writable buffers from stream offset <paramref name="offset"/>; returns how many bytes fitted.</summary>
    /// <exception cref="GuestMemoryFaultException">guest memory changed under the chain (a slot was removed).</exception>
    public int WriteTo(long offset, ReadOnlySpan<byte> source)
    {
        int done = 0;
        long skip = offset;
        foreach (var b in Writable)
        {
            if (done == source.Length) break;
            if (skip >= b.Length) { skip -= b.Length; continue; }
            int n = (int)Math.Min(b.Length - skip, source.Length - done);
            _memory.Write(b.Address + (ulong)skip, source.Slice(done, n));
            done += n;
            skip = 0;
        }
        return done;
    }

    /// <summary>
    /// The host memory behind readable stream bytes [<paramref name="offset"/>, +<paramref name="length"/>), for a
    /// write to a file straight from guest RAM: each buffer's part is translated now against the live memslots.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">the range reaches past the readable buffers.</exception>
    /// <exception cref="GuestMemoryFaultException">a buffer is no longer guest RAM (a slot was removed); nothing was touched.</exception>
    public HostBuffer[] MapReadable(long offset, long length) => Map(Readable, ReadableLength, offset, length, forWrite: false);

    /// <summary>
    /// The host memory behind writable stream bytes [<paramref name="offset"/>, +<paramref name="length"/>), for a read
    /// from a file straight into guest RAM: each buffer's part is translated now against the live memslots, writable.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">the range reaches past the writable buffers.</exception>
    /// <exception cref="GuestMemoryFaultException">a buffer is no longer writable guest RAM (a slot was removed); nothing was touched.</exception>
    public HostBuffer[] MapWritable(long offset, long length) => Map(Writable, WritableLength, offset, length, forWrite: true);

    private HostBuffer[] Map(IReadOnlyList<VirtqueueBuffer> buffers, long streamLength, long offset, long length, bool forWrite)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(length, streamLength - offset);
        // Two passes over the same rule: how many buffers the range touches, then their host addresses, all translated
        // against one memslot set.
        var mapped = new HostBuffer[Touched(buffers, offset, length, null, default, false)];
        Touched(buffers, offset, length, mapped, _memory.View(), forWrite);
        return mapped;
    }

    // The buffers' parts that stream bytes [offset, +length) cover, in order: counted, and translated into mapped if given.
    private static int Touched(IReadOnlyList<VirtqueueBuffer> buffers, long offset, long length, HostBuffer[]? mapped, GuestMemoryView view, bool forWrite)
    {
        int count = 0;
        long skip = offset, left = length;
        for (int i = 0; i < buffers.Count && left > 0; i++)
        {
            var b = buffers[i];
            if (skip >= b.Length) { skip -= b.Length; continue; }
            long n = Math.Min(b.Length - skip, left);
            if (mapped is not null) mapped[count] = new HostBuffer(view.HostAddressOf(b.Address + (ulong)skip, (ulong)n, forWrite), n);
            count++;
            left -= n;
            skip = 0;
        }
        return count;
    }

    /// <inheritdoc />
    public override string ToString() => $"chain {Head}: {Readable.Count} readable ({ReadableLength} bytes), {Writable.Count} writable ({WritableLength} bytes)";
}
