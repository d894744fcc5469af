using System.Runtime.CompilerServices;

namespace Actorvisor.Hardware.Native;

/// <summary>
/// The kernel's ioctl request encoding (include/uapi/asm-generic/ioctl.h, which x86 uses): _IO, _IOR, _IOW
/// and _IOWR over _IOC. Every subsystem's request numbers (KVM, userfaultfd, VFIO) are built here, from the
/// type byte, the command number and the size of the argument struct, so a wrong struct size shows up as a
/// wrong number in that subsystem's layout test.
/// </summary>
public static class IoctlNumber
{
    // nr in bits 0-7, type in bits 8-15, size in bits 16-29, direction in bits 30-31.
    private const int NrShift = 0, TypeShift = 8, SizeShift = 16, DirShift = 30;
    private const uint MaxByte = 0xFF, MaxSize = (1u << 14) - 1, MaxDir = 3;

    /// <summary>_IOC_NONE: no argument is transferred.</summary>
    public const uint DirNone = 0;
    /// <summary>_IOC_WRITE: userspace writes the argument, the kernel reads it.</summary>
    public const uint DirWrite = 1;
    /// <summary>_IOC_READ: the kernel writes the argument, userspace reads it.</summary>
    public const uint DirRead = 2;

    /// <summary>_IOC(dir, type, nr, size); refuses fields wider than the kernel's bit fields.</summary>
    public static ulong Ioc(uint dir, uint type, uint nr, uint size)
    {
        if (dir > MaxDir) throw new ArgumentOutOfRangeException(nameof(dir), $"ioctl direction {dir} does not fit in 2 bits");
        if (type > MaxByte) throw new ArgumentOutOfRangeException(nameof(type), $"ioctl type 0x{type:x} does not fit in 8 bits");
        if (nr > MaxByte) throw new ArgumentOutOfRangeException(nameof(nr), $"ioctl number 0x{nr:x} does not fit in 8 bits");
        if (size > MaxSize) throw new ArgumentOutOfRangeException(nameof(size), $"ioctl argument size {size} does not fit in 14 bits");
        return ((ulong)dir << DirShift) | (type << TypeShift) | (nr << NrShift) | (size << SizeShift);
    }

    /// <summary>_IO(type, nr): no argument struct (an integer argument, if any, is passed by value).</summary>
    public static ulong Io(uint type, uint nr) => Ioc(DirNone, type, nr, 0);

    /// <summary>_IOR(type, nr, T): the kernel writes a T.</summary>
    public static ulong Ior<T>(uint type, uint nr) where T : unmanaged => Ioc(DirRead, type, nr, SizeOf<T>());

    /// <summary>_IOW(type, nr, T): the kernel reads a T.</summary>
    public static ulong Iow<T>(uint type, uint nr) where T : unmanaged => Ioc(DirWrite, type, nr, SizeOf<T>());

    /// <summary>_IOWR(type, nr, T): the kernel reads and writes a T.</summary>
    public static ulong Iowr<T>(uint type, uint nr) where T : unmanaged => Ioc(DirRead | DirWrite, type, nr, SizeOf<T>());

    /// <summary>
    /// _IOW(type, nr, ...) with an explicit <paramref name="size"/>, for a request whose declared argument is
    /// not the whole struct passed (e.g. KVM_SET_SIGNAL_MASK, declared with the header of kvm_signal_mask).
    /// </summary>
    public static ulong Iow(uint type, uint nr, uint size) => Ioc(DirWrite, type, nr, size);

    private static uint SizeOf<T>() where T : unmanaged => (uint)Unsafe.SizeOf<T>();
}
