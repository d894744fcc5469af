using System.Runtime.InteropServices;
using Actorvisor.Hardware.Native;
using static Tmds.Linux.LibC;

namespace Actorvisor.Hardware.Memory;

/// <summary>
/// Owns one mmap'd range of host memory that backs guest RAM, and unmaps it on dispose.
/// All access goes through bounds-checked helpers taking offsets into the range; Read and Write copy in native
/// code (see <see cref="GuestMemoryAccess"/>), while a <see cref="Span"/> is for memory known to be present.
/// </summary>
public sealed unsafe class HostMemory : IDisposable
{
    private nint _address;
    private readonly FileDescriptor? _memfd;

    private HostMemory(nint address, ulong size, HostMemoryBacking backing, FileDescriptor? memfd)
    {
        _address = address;
        Size = size;
        Backing = backing;
        _memfd = memfd;
    }

    /// <summary>The huge page size anonymous guest RAM is aligned to: 2 MiB.</summary>
    public const ulong HugePageSize = 2UL << 20;

    /// <summary>
    /// Maps <paramref name="size"/> bytes (a multiple of 4 KiB) of zeroed, readable and writable memory. Anonymous memory
    /// of 2 MiB or more starts on a 2 MiB boundary, as QEMU's and Cloud Hypervisor's guest RAM does: KVM maps a memslot
    /// with 2 MiB pages only where its guest-physical and host-virtual addresses agree modulo 2 MiB, so RAM at
    /// guest-physical 0 at a misaligned host address gets 4 KiB nested page-table entries throughout. With
    /// <paramref name="transparentHugePages"/> it is also advised MADV_HUGEPAGE (which a host whose THP mode is "madvise"
    /// needs before it backs it with huge pages); lazily filled memory leaves it off.
    /// </summary>
    public static HostMemory Allocate(ulong size, HostMemoryBacking backing = HostMemoryBacking.Anonymous, string name = "guest-ram",
        bool transparentHugePages = true)
    {
        if (size == 0) throw new ArgumentOutOfRangeException(nameof(size), "guest memory size must be greater than zero");
        if (!PageSize.IsAligned(size)) throw new ArgumentOutOfRangeException(nameof(size), $"guest memory size 0x{size:x} is not a multiple of 4 KiB");
        int prot = PROT_READ | PROT_WRITE;
        if (backing == HostMemoryBacking.Memfd)
        {
            var fd = Sys.MemfdCreate(name);
            try
            {
                Sys.Ftruncate(fd, (long)size);
                nint p = Sys.Mmap(0, size, prot, MAP_SHARED | MAP_NORESERVE, fd.Fd, 0, name);
                return new HostMemory(p, size, backing, fd);
            }
            catch
            {
                fd.Dispose();
                throw;
            }
        }
        nint a = MapAnonymous(size, prot, name);
        if (transparentHugePages && size >= HugePageSize) Sys.MadviseHugePage(a, size);
        return new HostMemory(a, size, backing, null);
    }

    // An anonymous private mapping of size bytes; from 2 MiB up, on a 2 MiB boundary (a larger reservation trimmed at
    // both ends).
    private static nint MapAnonymous(ulong size, int prot, string name)
    {
        int flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE;
        if (size < HugePageSize) return Sys.Mmap(0, size, prot, flags, -1, 0, name);
        ulong reserved = size + HugePageSize;
        nint start = Sys.Mmap(0, reserved, prot, flags, -1, 0, name);
        ulong aligned = ((ulong)start + HugePageSize - 1) & ~(HugePageSize - 1);
        ulong head = aligned - (ulong)start, tail = reserved - head - size;
        if (head > 0) Sys.Munmap(start, head);
        if (tail > 0) Sys.Munmap((nint)(aligned + size), tail);
        return (nint)aligned;
    }

    /// <summary>
    /// Maps the first <paramref name="size"/> bytes of the file <paramref name="path"/> MAP_PRIVATE, readable and
    /// writable: the kernel reads each page from the file (or its page cache) on first touch, and the guest's writes
    /// go to private copies, never to the file. The file must be at least <paramref name="size"/> bytes long.
    /// </summary>
    public static HostMemory MapPrivateFile(string path, ulong size, string name = "guest-ram")
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (size == 0 || !PageSize.IsAligned(size)) throw new ArgumentOutOfRangeException(nameof(size), $"guest memory size 0x{size:x} is not a positive multiple of 4 KiB");
        using var fd = Sys.Open(path, O_RDONLY | O_CLOEXEC);
        nint p = Sys.Mmap(0, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_NORESERVE, fd.Fd, 0, $"{name} ({path})");
        return new HostMemory(p, size, HostMemoryBacking.PrivateFile, null);
    }

    /// <summary>The host virtual address of the first byte.</summary>
    public nint Address => _address != 0 ? _address : throw new ObjectDisposedException(nameof(HostMemory));

    /// <summary>Size in bytes.</summary>
    public ulong Size { get; }

    /// <summary>How the memory is backed.</summary>
    public HostMemoryBacking Backing { get; }

    /// <summary>The memfd behind a <see cref="HostMemoryBacking.Memfd"/> mapping, else null.</summary>
    public FileDescriptor? Memfd => _memfd;

    /// <summary>True once unmapped.</summary>
    public bool IsDisposed => _address == 0;

    /// <summary>A span over <paramref name="length"/> bytes at <paramref name="offset"/>, bounds-checked.</summary>
    public Span<byte> Span(ulong offset, int length)
    {
        CheckRange(offset, (ulong)length);
        return new Span<byte>((void*)(Address + (nint)offset), length);
    }

    /// <summary>Copies <paramref name="data"/> into the memory at <paramref name="offset"/>.</summary>
    public void Write(ulong offset, ReadOnlySpan<byte> data)
    {
        CheckRange(offset, (ulong)data.Length);
        GuestMemoryAccess.CopyIn(data, Address + (nint)offset);
    }

    /// <summary>Copies bytes at <paramref name="offset"/> into <paramref name="destination"/>.</summary>
    public void Read(ulong offset, Span<byte> destination)
    {
        CheckRange(offset, (ulong)destination.Length);
        GuestMemoryAccess.CopyOut(Address + (nint)offset, destination);
    }

    /// <summary>Reads an unmanaged value (little-endian, as the guest sees it).</summary>
    public T Read<T>(ulong offset) where T : unmanaged
    {
        T value = default;
        Read(offset, new Span<byte>(&value, sizeof(T)));
        return value;
    }

    /// <summary>Writes an unmanaged value (little-endian, as the guest sees it).</summary>
    public void Write<T>(ulong offset, T value) where T : unmanaged => Write(offset, new ReadOnlySpan<byte>(&value, sizeof(T)));

    /// <summary>Throws unless [offset, offset+length) lies inside this memory.</summary>
    public void CheckRange(ulong offset, ulong length)
    {
        if (offset > Size || length > Size - offset)
            throw new ArgumentOutOfRangeException(nameof(offset), $"range 0x{offset:x}+0x{length:x} is outside guest memory of 0x{Size:x} bytes");
    }

    /// <summary>Unmaps the memory (and closes the memfd). Any pointer into it is invalid afterwards.</summary>
    public void Dispose()
    {
        var a = Interlocked.Exchange(ref _address, 0);
        if (a != 0) Sys.Munmap(a, Size);
        _memfd?.Dispose();
    }
}
