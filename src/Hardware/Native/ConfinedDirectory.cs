using static Tmds.Linux.LibC;

namespace Actorvisor.Hardware.Native;

/// <summary>
/// A directory that client-named paths must stay inside: owns an O_PATH descriptor of the directory, and opens
/// a path relative to it with openat2(2) RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS, so the kernel itself refuses
/// '..' above the directory, absolute paths, symbolic links leading out and /proc magic links, at the moment
/// of the open (no check-then-open race). Only a regular file is handed out (fstat of the opened descriptor);
/// a FIFO is opened non-blocking so that it cannot stall the caller before it is refused. Every file a client
/// names (images, kernels, initrds, modules, disks, snapshots) is opened through one of these and then read
/// through the returned <see cref="ConfinedFile"/> only.
/// </summary>
public sealed class ConfinedDirectory : IDisposable
{
    private const int MaxRetries = 16; // openat2 returns EAGAIN when a rename or mount raced the walk
    private readonly FileDescriptor _dir;

    private ConfinedDirectory(FileDescriptor dir, string root)
    {
        _dir = dir;
        Root = root;
    }

    /// <summary>The directory's path as given (trusted: it comes from the node's own settings).</summary>
    public string Root { get; }

    /// <summary>Opens the directory <paramref name="root"/> (O_PATH | O_DIRECTORY).</summary>
    /// <exception cref="SyscallException">it does not exist, is not a directory, or cannot be reached.</exception>
    public static ConfinedDirectory Open(string root)
    {
        ArgumentException.ThrowIfNullOrEmpty(root);
        var full = System.IO.Path.TrimEndingDirectorySeparator(System.IO.Path.GetFullPath(root));
        return new ConfinedDirectory(Sys.Open(full, O_PATH | O_DIRECTORY), full);
    }

    /// <summary>
    /// Opens <paramref name="relativePath"/> beneath <see cref="Root"/> read-only; the caller owns the result.
    /// </summary>
    /// <exception cref="ConfinedPathException">as <see cref="OpenFile(string, bool)"/>.</exception>
    public ConfinedFile OpenFile(string relativePath) => OpenFile(relativePath, writable: false);

    /// <summary>
    /// Opens <paramref name="relativePath"/> beneath <see cref="Root"/>, read-only or (<paramref name="writable"/>,
    /// for a guest's disk) read-write; the caller owns the result.
    /// </summary>
    /// <exception cref="ConfinedPathException">
    /// the path is empty, absolute, leaves the directory, goes through a magic link, does not exist, cannot be
    /// read, or is not a regular file (a directory, FIFO, socket or device node); or this kernel lacks openat2.
    /// </exception>
    public ConfinedFile OpenFile(string relativePath, bool writable)
    {
        ArgumentNullException.ThrowIfNull(relativePath);
        if (relativePath.Length == 0) throw Refuse(relativePath, "the path is empty");
        if (relativePath.Contains('\0')) throw Refuse(relativePath, "the path contains a NUL character");
        if (relativePath.StartsWith('/')) throw Refuse(relativePath, $"it is an absolute path; name the file relative to {Root}");

        var display = System.IO.Path.Join(Root, relativePath);
        var how = new OpenHow((ulong)((writable ? O_RDWR : O_RDONLY) | O_NONBLOCK | O_NOCTTY | O_CLOEXEC), 0, OpenHow.BeneathNoMagicLinks);
        FileDescriptor? fd = null;
        for (int attempt = 0; fd is null; attempt++)
        {
            try
            {
                fd = Sys.OpenAt2(_dir, relativePath, how, display);
            }
            catch (SyscallException e) when ((e.Errno == Errnos.EAGAIN && attempt < MaxRetries) || e.Errno == Errnos.EINTR)
            {
            }
            catch (SyscallException e)
            {
                throw Refuse(relativePath, Reason(e.Errno), e);
            }
        }
        try
        {
            var (mode, _) = ConfinedFile.Status(fd);
            if ((mode & TypeMask) != RegularFile) throw Refuse(relativePath, $"it is a {TypeName(mode)}, not a regular file");
            // Reads of a regular file ignore O_NONBLOCK; clear it anyway so that the descriptor is an ordinary one.
            int flags = (int)Sys.Check(fcntl(fd.Fd, F_GETFL), "fcntl(F_GETFL)", display);
            Sys.Check(fcntl(fd.Fd, F_SETFL, flags & ~O_NONBLOCK), "fcntl(F_SETFL)", display);
            return new ConfinedFile(fd, display, writable);
        }
        catch
        {
            fd.Dispose();
            throw;
        }
    }

    private string Reason(int errno) => errno switch
    {
        Errnos.EXDEV => $"it leads out of {Root} (through '..' or a symbolic link pointing outside)",
        Errnos.ELOOP => "it goes through a magic link (such as /proc/self/root or /proc/PID/fd/N) or too many symbolic links",
        Errnos.ENOENT => "it does not exist",
        Errnos.ENOTDIR => "a component of the path is not a directory",
        Errnos.EACCES or Errnos.EPERM => "permission denied",
        Errnos.ENXIO => "it is a socket or a device without a driver, not a regular file",
        Errnos.ENOSYS => "this kernel lacks openat2(2) (Linux 5.6 or later), which confined opening needs; the file is not opened without it",
        Errnos.EAGAIN => "the directory kept changing while the path was looked up (renames or mounts racing the lookup); try again",
        _ => $"{Errnos.Name(errno)}: {Errnos.Describe(errno)}",
    };

    // st_mode file type bits (S_IFMT and its values, stat(2)).
    private const uint TypeMask = 0xf000, RegularFile = 0x8000;

    private static string TypeName(uint mode) => (mode & TypeMask) switch
    {
        0x4000 => "directory",
        0x2000 => "character device",
        0x6000 => "block device",
        0x1000 => "FIFO (named pipe)",
        0xc000 => "socket",
        0xa000 => "symbolic link",
        var t => $"file of type 0{Convert.ToString(t, 8)}",
    };

    private ConfinedPathException Refuse(string path, string reason, Exception? inner = null) => new(Root, path, reason, inner);

    /// <inheritdoc />
    public void Dispose() => _dir.Dispose();

    /// <inheritdoc />
    public override string ToString() => Root;
}
