using Microsoft.Win32.SafeHandles;
using Tmds.Linux;
using static Tmds.Linux.LibC;

namespace Actorvisor.Hardware.Native;

/// <summary>
/// A regular file opened beneath a <see cref="ConfinedDirectory"/> (read-only, or read-write for a guest's disk):
/// owns the one descriptor every read and write of it goes through (pread(2)/pwrite(2) at an offset, or a stream on
/// a duplicate), so what is used is the file that was checked, whatever happens to its path afterwards.
/// </summary>
public sealed class ConfinedFile : IDisposable
{
    private readonly FileDescriptor _fd;

    internal ConfinedFile(FileDescriptor fd, string path, bool writable = false)
    {
        _fd = fd;
        Path = path;
        Writable = writable;
    }

    /// <summary>True if the file was opened read-write.</summary>
    public bool Writable { get; }

    /// <summary>The file's path for messages: its directory joined with the path it was opened by.</summary>
    public string Path { get; }

    /// <summary>The file's current length in bytes (fstat of the descriptor).</summary>
    /// <exception cref="SyscallException">the descriptor cannot be queried.</exception>
    public long Length => Status(_fd).Size;

    /// <summary>
    /// Reads up to <paramref name="buffer"/>'s length from byte <paramref name="offset"/>; fewer only at the
    /// end of the file. Returns the bytes read.
    /// </summary>
    /// <exception cref="SyscallException">the read fails.</exception>
    public unsafe int ReadAt(Span<byte> buffer, long offset)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        int total = 0;
        fixed (byte* p = buffer)
        {
            while (total < buffer.Length)
            {
                long n = pread(_fd.Fd, p + total, (size_t)(buffer.Length - total), offset + total);
                if (n < 0 && Sys.LastErrno == Errnos.EINTR) continue;
                Sys.Check(n, "pread", Path);
                if (n == 0) break;
                total += (int)n;
            }
        }
        return total;
    }

    /// <summary>Writes all of <paramref name="buffer"/> at byte <paramref name="offset"/>.</summary>
    /// <exception cref="InvalidOperationException">the file was opened read-only.</exception>
    /// <exception cref="SyscallException">the write fails.</exception>
    public unsafe void WriteAt(ReadOnlySpan<byte> buffer, long offset)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        if (!Writable) throw new InvalidOperationException($"{Path} was opened read-only");
        int total = 0;
        fixed (byte* p = buffer)
        {
            while (total < buffer.Length)
            {
                long n = pwrite(_fd.Fd, p + total, (size_t)(buffer.Length - total), offset + total);
                if (n < 0 && Sys.LastErrno == Errnos.EINTR) continue;
                Sys.Check(n, "pwrite", Path);
                total += (int)n;
            }
        }
    }

    /// <summary>
    /// Reads into <paramref name="buffers"/> (host memory the caller checked, e.g. guest RAM) from byte
    /// <paramref name="offset"/> with preadv(2), no copy in between; returns the bytes read, fewer than the buffers
    /// hold only at the end of the file.
    /// </summary>
    /// <exception cref="SyscallException">a read fails.</exception>
    public long ReadAt(ReadOnlySpan<HostBuffer> buffers, long offset) => VectoredIo.Read(_fd, buffers, offset, Path);

    /// <summary>Writes all of <paramref name="buffers"/> (host memory the caller checked) at byte <paramref name="offset"/> with pwritev(2).</summary>
    /// <exception cref="InvalidOperationException">the file was opened read-only.</exception>
    /// <exception cref="SyscallException">a write fails.</exception>
    public void WriteAt(ReadOnlySpan<HostBuffer> buffers, long offset)
    {
        if (!Writable) throw new InvalidOperationException($"{Path} was opened read-only");
        VectoredIo.Write(_fd, buffers, offset, Path);
    }

    /// <summary>fsync(2): the file's data and metadata reach stable storage before this returns.</summary>
    /// <exception cref="SyscallException">the sync fails (an I/O error the guest must hear of).</exception>
    public void FlushToDisk()
    {
        while (true)
        {
            int r = fsync(_fd.Fd);
            if (r < 0 && Sys.LastErrno == Errnos.EINTR) continue;
            Sys.Check(r, "fsync", Path);
            return;
        }
    }

    /// <summary>The whole file, refused if it is longer than <paramref name="maxBytes"/>.</summary>
    /// <exception cref="IOException">the file is too long, or a read fails (<see cref="SyscallException"/>).</exception>
    public byte[] ReadAll(long maxBytes)
    {
        long length = Length;
        if (length > maxBytes) throw new IOException($"{Path} is {length} bytes, more than the {maxBytes} allowed");
        var bytes = new byte[length];
        int read = ReadAt(bytes, 0);
        return read == bytes.Length ? bytes : bytes[..read]; // it shrank since the fstat
    }

    /// <summary>
    /// A read-only stream over the file from its start, on a duplicate of the descriptor (the caller disposes
    /// it; this file stays open). It reads the same open file, never the path again.
    /// </summary>
    /// <exception cref="SyscallException">the descriptor cannot be duplicated.</exception>
    public Stream OpenStream()
    {
        int copy = (int)Sys.Check(fcntl(_fd.Fd, F_DUPFD_CLOEXEC, 0), "fcntl(F_DUPFD_CLOEXEC)", Path);
        var handle = new SafeFileHandle(copy, ownsHandle: true);
        return new FileStream(handle, FileAccess.Read, bufferSize: 0) { Position = 0 };
    }

    /// <summary>The open file's size and modification time (statx of the descriptor).</summary>
    /// <exception cref="SyscallException">the descriptor cannot be queried.</exception>
    public unsafe FileIdentity Identity
    {
        get
        {
            statx buffer;
            byte empty = 0;
            int r = statx(_fd.Fd, &empty, AT_EMPTY_PATH, STATX_SIZE | STATX_MTIME, &buffer);
            Sys.Check(r, "statx", Path);
            return new FileIdentity((long)buffer.stx_size, (long)buffer.stx_mtime.tv_sec * 1_000_000_000L + buffer.stx_mtime.tv_nsec);
        }
    }

    /// <summary>The file type bits (S_IFMT) and size of the open file <paramref name="fd"/>.</summary>
    internal static unsafe (uint Mode, long Size) Status(FileDescriptor fd)
    {
        statx buffer;
        byte empty = 0;
        int r = statx(fd.Fd, &empty, AT_EMPTY_PATH, STATX_TYPE | STATX_MODE | STATX_SIZE, &buffer);
        Sys.Check(r, "statx", fd.What);
        return (buffer.stx_mode, (long)buffer.stx_size);
    }

    /// <inheritdoc />
    public void Dispose() => _fd.Dispose();

    /// <inheritdoc />
    public override string ToString() => Path;
}
