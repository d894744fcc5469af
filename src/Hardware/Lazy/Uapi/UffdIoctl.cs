using Actorvisor.Hardware.Native;

namespace Actorvisor.Hardware.Lazy.Uapi;

/// <summary>
/// The userfaultfd ioctl numbers and constants of include/uapi/linux/userfaultfd.h, all in one place.
/// The numbers are encoded by <see cref="IoctlNumber"/> from the struct sizes, so a wrong struct
/// size shows up as a wrong number in the layout test (which checks them against the kernel's values).
/// </summary>
public static class UffdIoctl
{
    /// <summary>The userfaultfd(2) system call number on x86-64.</summary>
    public const long SyscallNumber = 323;

    /// <summary>UFFDIO: the ioctl type byte of every userfaultfd ioctl.</summary>
    public const uint Type = 0xAA;

    /// <summary>UFFD_API: the API version the UFFDIO_API handshake asks for.</summary>
    public const ulong Api = 0xAA;

    /// <summary>USERFAULTFD_IOC_NEW = _IO(0xAA, 0x00): creates a userfaultfd through /dev/userfaultfd.</summary>
    public static readonly ulong DevNew = IoctlNumber.Io(Type, 0x00);

    /// <summary>UFFDIO_API = _IOWR(0xAA, 0x3F, struct uffdio_api).</summary>
    public static readonly ulong ApiHandshake = IoctlNumber.Iowr<UffdioApi>(Type, 0x3F);

    /// <summary>UFFDIO_REGISTER = _IOWR(0xAA, 0x00, struct uffdio_register).</summary>
    public static readonly ulong Register = IoctlNumber.Iowr<UffdioRegister>(Type, 0x00);

    /// <summary>UFFDIO_UNREGISTER = _IOR(0xAA, 0x01, struct uffdio_range).</summary>
    public static readonly ulong Unregister = IoctlNumber.Ior<UffdioRange>(Type, 0x01);

    /// <summary>UFFDIO_WAKE = _IOR(0xAA, 0x02, struct uffdio_range).</summary>
    public static readonly ulong Wake = IoctlNumber.Ior<UffdioRange>(Type, 0x02);

    /// <summary>UFFDIO_COPY = _IOWR(0xAA, 0x03, struct uffdio_copy).</summary>
    public static readonly ulong Copy = IoctlNumber.Iowr<UffdioCopy>(Type, 0x03);

    /// <summary>UFFDIO_ZEROPAGE = _IOWR(0xAA, 0x04, struct uffdio_zeropage).</summary>
    public static readonly ulong ZeroPage = IoctlNumber.Iowr<UffdioZeropage>(Type, 0x04);

    /// <summary>Bit numbers (_UFFDIO_*) of the ioctls a registered range supports, as returned in uffdio_register.ioctls.</summary>
    public const int WakeBit = 0x02, CopyBit = 0x03, ZeroPageBit = 0x04;

    /// <summary>Bit numbers of the ioctls the handshake reports in uffdio_api.ioctls.</summary>
    public const int RegisterBit = 0x00, UnregisterBit = 0x01, ApiBit = 0x3F;

    /// <summary>UFFD_USER_MODE_ONLY: the syscall flag that limits the descriptor to user-mode faults.</summary>
    public const int UserModeOnly = 1;

    /// <summary>UFFD_FEATURE_THREAD_ID: fault messages carry the faulting thread's id.</summary>
    public const ulong FeatureThreadId = 1UL << 8;

    /// <summary>UFFDIO_REGISTER_MODE_MISSING: report faults on pages that are not present.</summary>
    public const ulong RegisterModeMissing = 1;

    /// <summary>UFFDIO_COPY_MODE_DONTWAKE / UFFDIO_ZEROPAGE_MODE_DONTWAKE: install without waking the faulting threads.</summary>
    public const ulong ModeDontWake = 1;

    /// <summary>UFFD_EVENT_PAGEFAULT: the message's event code for a page fault.</summary>
    public const byte EventPageFault = 0x12;

    /// <summary>UFFD_PAGEFAULT_FLAG_WRITE: the fault was a write.</summary>
    public const ulong PageFaultFlagWrite = 1;
}
