using System.Runtime.InteropServices;

namespace Actorvisor.Hardware.Native;

/// <summary>
/// struct open_how of openat2(2): the open flags, the creation mode and the RESOLVE_* flags that restrict how
/// the kernel walks the path. Laid out as the kernel's three u64 fields (24 bytes).
/// </summary>
/// <param name="Flags">O_* flags (O_RDONLY, O_NONBLOCK, ...); O_CLOEXEC is added by <see cref="Sys.OpenAt2"/>.</param>
/// <param name="Mode">Permission bits for O_CREAT/O_TMPFILE; must be 0 otherwise.</param>
/// <param name="Resolve">RESOLVE_* flags (<see cref="BeneathNoMagicLinks"/>).</param>
[StructLayout(LayoutKind.Sequential)]
public readonly record struct OpenHow(ulong Flags, ulong Mode, ulong Resolve)
{
    /// <summary>RESOLVE_NO_XDEV: no crossing of mount points.</summary>
    public const ulong ResolveNoXdev = 0x01;
    /// <summary>RESOLVE_NO_MAGICLINKS: no /proc/PID/fd, /proc/PID/root or other magic links.</summary>
    public const ulong ResolveNoMagicLinks = 0x02;
    /// <summary>RESOLVE_NO_SYMLINKS: no symbolic links at all.</summary>
    public const ulong ResolveNoSymlinks = 0x04;
    /// <summary>RESOLVE_BENEATH: the path must stay beneath the directory fd ('..', absolute paths and links out fail with EXDEV).</summary>
    public const ulong ResolveBeneath = 0x08;
    /// <summary>RESOLVE_IN_ROOT: the directory fd is treated as the root.</summary>
    public const ulong ResolveInRoot = 0x10;

    /// <summary>RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS: what confined opening uses.</summary>
    public const ulong BeneathNoMagicLinks = ResolveBeneath | ResolveNoMagicLinks;

    /// <summary>The x86-64 system call number of openat2.</summary>
    public const long SyscallNumber = 437;
}
