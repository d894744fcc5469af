namespace Actorvisor.Hardware.Lazy.Uapi;

/// <summary>
/// The userfaultfd ioctl numbers and constants of include/uapi/linux/userfaultfd.h, all in one place.
/// The numbers are computed with the kernel's _IOC encoding from the struct sizes, so a wrong struct
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

    // asm-generic/ioctl.h: dir (2 bits) << 30 | size (14 bits) << 16 | type << 8 | nr.
    private const uint DirWrite = 1, DirRead = 2;

    private static uint Ioc(uint dir, uint nr, int size) => (dir << 30) | ((uint)size << 16) | (Type << 8) | nr;

    /// <summary>USERFAULTFD_IOC_NEW = _IO(0xAA, 0x00): creates a userfaultfd through /dev/userfaultfd.</summary>
    public static readonly uint DevNew = Ioc(0, 0x00, 0);

    /// <summary>UFFDIO_API = _IOWR(0xAA, 0x3F, struct uffdio_api).</summary>
    public static readonly uint ApiHandshake = Ioc(DirRead | DirWrite, 0x3F, UffdioApi.Size);

    /// <summary>UFFDIO_REGISTER = _IOWR(0xAA, 0x00, struct uffdio_register).</summary>
    public static readonly uint Register = Ioc(DirRead | DirWrite, 0x00, UffdioRegister.Size);

    /// <summary>UFFDIO_UNREGISTER = _IOR(0xAA, 0x01, struct uffdio_range).</summary>
    public static readonly uint Unregister = Ioc(DirRead, 0x01, UffdioRange.Size);

    /// <summary>UFFDIO_WAKE = _IOR(0xAA, 0x02, struct uffdio_range).</summary>
    public static readonly uint Wake = Ioc(DirRead, 0x02, UffdioRange.Size);

    /// <summary>UFFDIO_COPY = _IOWR(0xAA, 0x03, struct uffdio_copy).</summary>
    public static readonly uint Copy = Ioc(DirRead | DirWrite, 0x03, UffdioCopy.Size);

    /// <summary>UFFDIO_ZEROPAGE = _IOWR(0xAA, 0x04, struct uffdio_zeropage).</summary>
    public static readonly uint ZeroPage = Ioc(DirRead | DirWrite, 0x04, UffdioZeropage.Size);

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
