using Actorvisor.Hardware.Native;
using Tmds.Linux;
using static Tmds.Linux.LibC;

namespace Actorvisor.Hardware.Vfio;

/// <summary>
/// What statx(2) says about an open file or a path: its type, which inode it is, and for a device node the
/// device number it refers to. Enough to tell a VFIO group or device node from any other file.
/// </summary>
/// <param name="Mode">st_mode: the file type bits and permissions.</param>
/// <param name="DeviceMajor">Major number of the device holding the inode.</param>
/// <param name="DeviceMinor">Minor number of the device holding the inode.</param>
/// <param name="Inode">The inode number.</param>
/// <param name="RdevMajor">For a device node: the major number it refers to; 0 otherwise.</param>
/// <param name="RdevMinor">For a device node: the minor number it refers to; 0 otherwise.</param>
public readonly record struct FileStatus(uint Mode, uint DeviceMajor, uint DeviceMinor, ulong Inode, uint RdevMajor, uint RdevMinor)
{
    private const uint TypeMask = 0xf000; // S_IFMT

    /// <summary>True for a character device node (S_IFCHR).</summary>
    public bool IsCharacterDevice => (Mode & TypeMask) == 0x2000;

    /// <summary>The file type in words ("regular file", "character device", ...).</summary>
    public string TypeName => (Mode & TypeMask) switch
    {
        0x8000 => "regular file",
        0x4000 => "directory",
        0x2000 => "character device",
        0x6000 => "block device",
        0x1000 => "FIFO",
        0xc000 => "socket",
        0xa000 => "symbolic link",
        0 => "anonymous file (no file type, e.g. an eventfd)",
        var t => $"file of type 0x{t:x}",
    };

    /// <summary>Whether both describe the same inode (the same file system object).</summary>
    public bool IsSameInode(FileStatus other) =>
        DeviceMajor == other.DeviceMajor && DeviceMinor == other.DeviceMinor && Inode == other.Inode;

    /// <summary>statx on the open file <paramref name="file"/> (AT_EMPTY_PATH).</summary>
    /// <exception cref="SyscallException">the descriptor is not open (EBADF).</exception>
    public static FileStatus Of(FileDescriptor file) => Stat(file.Fd, "", AT_EMPTY_PATH, file.What);

    /// <summary>statx on <paramref name="path"/>, following symbolic links (as open(2) would).</summary>
    /// <exception cref="SyscallException">the path does not exist or cannot be looked up.</exception>
    public static FileStatus OfPath(string path) => Stat(AT_FDCWD, path, 0, path);

    private static unsafe FileStatus Stat(int dirfd, string path, int flags, string what)
    {
        var bytes = System.Text.Encoding.UTF8.GetBytes(path + "\0");
        statx buffer;
        int r;
        // Safe: the path is pinned and NUL-terminated; the kernel writes one struct statx into the local.
        fixed (byte* p = bytes) r = statx(dirfd, p, flags, STATX_TYPE | STATX_MODE | STATX_INO, &buffer);
        Sys.Check(r, "statx", what);
        return new FileStatus(buffer.stx_mode, buffer.stx_dev_major, buffer.stx_dev_minor, buffer.stx_ino,
            buffer.stx_rdev_major, buffer.stx_rdev_minor);
    }

    /// <inheritdoc />
    public override string ToString() =>
        IsCharacterDevice ? $"{TypeName} {RdevMajor}:{RdevMinor}" : TypeName;
}
