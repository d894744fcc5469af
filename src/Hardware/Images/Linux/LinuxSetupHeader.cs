using System.Buffers.Binary;

namespace Actorvisor.Hardware.Images.Linux;

/// <summary>
/// The x86 Linux boot protocol's setup header (Documentation/arch/x86/boot.rst), read from a bzImage file at
/// offset 0x1f1 and checked for what a 64-bit entry needs: the "HdrS" magic, protocol 2.12 or later, a kernel
/// loaded high, the 64-bit entry point (xloadflags), and a protected-mode kernel as long as the header says.
/// </summary>
public sealed record LinuxSetupHeader
{
    /// <summary>Offset of the setup header in the file and in boot_params.</summary>
    public const int Offset = 0x1f1;
    /// <summary>"HdrS" read as a little-endian u32, at offset 0x202.</summary>
    public const uint HeaderMagic = 0x5372_6448;
    /// <summary>0xAA55 at offset 0x1fe: the boot sector signature.</summary>
    public const ushort BootFlag = 0xaa55;
    /// <summary>The oldest protocol accepted: 2.12 (xloadflags and the 64-bit entry).</summary>
    public const ushort MinimumVersion = 0x020c;
    /// <summary>loadflags bit 0: the protected-mode code is loaded at 0x100000 (a bzImage).</summary>
    public const byte LoadedHigh = 0x01;
    /// <summary>xloadflags bit 0: the kernel has the 64-bit entry at code32_start + 0x200.</summary>
    public const ushort XlfKernel64 = 0x01;
    /// <summary>Bytes of a file sector.</summary>
    public const int SectorSize = 512;
    /// <summary>Offset of the 64-bit entry point from the protected-mode kernel's load address.</summary>
    public const ulong Entry64Offset = 0x200;

    /// <summary>Sectors of real-mode setup code after the boot sector (0 in the file means 4).</summary>
    public required int SetupSectors { get; init; }
    /// <summary>The boot protocol version, major in the high byte (0x020f = 2.15).</summary>
    public required ushort Version { get; init; }
    /// <summary>loadflags.</summary>
    public required byte LoadFlags { get; init; }
    /// <summary>Size of the protected-mode code in 16-byte paragraphs.</summary>
    public required uint SysSize { get; init; }
    /// <summary>The highest address the initrd may occupy (its last byte).</summary>
    public required uint InitrdAddressMax { get; init; }
    /// <summary>The alignment a relocatable kernel needs.</summary>
    public required uint KernelAlignment { get; init; }
    /// <summary>True if the kernel may be loaded at any address aligned to <see cref="KernelAlignment"/>.</summary>
    public required bool Relocatable { get; init; }
    /// <summary>xloadflags.</summary>
    public required ushort XLoadFlags { get; init; }
    /// <summary>The longest command line the kernel accepts, without its terminating zero.</summary>
    public required uint CommandLineSize { get; init; }
    /// <summary>Where a relocatable kernel prefers to be loaded.</summary>
    public required ulong PreferredAddress { get; init; }
    /// <summary>Bytes of memory from the load address the kernel needs until it has relocated itself.</summary>
    public required uint InitSize { get; init; }
    /// <summary>One past the last header byte: 0x202 + the byte at 0x201 (the jump's offset).</summary>
    public required int HeaderEnd { get; init; }

    /// <summary>File offset of the protected-mode kernel: after the boot sector and the setup sectors.</summary>
    public int KernelOffset => (SetupSectors + 1) * SectorSize;

    /// <summary>Bytes of protected-mode code the header promises.</summary>
    public ulong KernelBytes => (ulong)SysSize * 16;

    /// <summary>The version as "2.15".</summary>
    public string VersionText => $"{Version >> 8}.{Version & 0xff}";

    /// <summary>Reads and checks the header of bzImage <paramref name="file"/> (named <paramref name="name"/> in errors).</summary>
    /// <exception cref="ImageLoadException">the file is not a bzImage this loader can boot, or is truncated.</exception>
    public static LinuxSetupHeader Parse(ReadOnlySpan<byte> file, string name)
    {
        if (file.Length < 0x270)
            throw new ImageLoadException(name, $"the file is truncated: {file.Length} bytes, too short for a Linux boot sector and setup header (at least 0x270)");
        uint magic = U32(file, 0x202);
        if (magic != HeaderMagic)
            throw new ImageLoadException(name, $"not a Linux bzImage: no \"HdrS\" magic at offset 0x202 (found 0x{magic:x8})");
        ushort bootFlag = U16(file, 0x1fe);
        if (bootFlag != BootFlag)
            throw new ImageLoadException(name, $"not a Linux bzImage: boot flag 0x{bootFlag:x4} at offset 0x1fe, expected 0xaa55");
        ushort version = U16(file, 0x206);
        if (version < MinimumVersion)
            throw new ImageLoadException(name,
                $"Linux boot protocol {version >> 8}.{version & 0xff} is too old: the 64-bit entry needs 2.12 or later");
        int setupSectors = file[0x1f1] == 0 ? 4 : file[0x1f1];
        var header = new LinuxSetupHeader
        {
            SetupSectors = setupSectors,
            Version = version,
            LoadFlags = file[0x211],
            SysSize = U32(file, 0x1f4),
            InitrdAddressMax = U32(file, 0x22c),
            KernelAlignment = U32(file, 0x230),
            Relocatable = file[0x234] != 0,
            XLoadFlags = U16(file, 0x236),
            CommandLineSize = U32(file, 0x238),
            PreferredAddress = BinaryPrimitives.ReadUInt64LittleEndian(file[0x258..]),
            InitSize = U32(file, 0x260),
            HeaderEnd = 0x202 + file[0x201],
        };
        if ((header.LoadFlags & LoadedHigh) == 0)
            throw new ImageLoadException(name, "not a bzImage: loadflags has no LOADED_HIGH (a zImage loads at 0x10000, which this loader does not support)");
        if ((header.XLoadFlags & XlfKernel64) == 0)
            throw new ImageLoadException(name, "the kernel has no 64-bit entry point (xloadflags lacks XLF_KERNEL_64): a 32-bit kernel is not supported");
        if (header.Relocatable && (header.KernelAlignment == 0 || (header.KernelAlignment & (header.KernelAlignment - 1)) != 0))
            throw new ImageLoadException(name, $"kernel_alignment 0x{header.KernelAlignment:x} is not a power of two");
        if (header.InitSize == 0)
            throw new ImageLoadException(name, "init_size is 0: the header does not say how much memory the kernel needs");
        if (header.HeaderEnd > file.Length || header.HeaderEnd > 0x290)
            throw new ImageLoadException(name, $"the setup header claims to end at 0x{header.HeaderEnd:x}, outside the file or the boot_params header");
        if (header.KernelOffset >= file.Length)
            throw new ImageLoadException(name,
                $"the file is truncated: {file.Length} bytes end before the protected-mode kernel at offset 0x{header.KernelOffset:x} ({setupSectors} setup sectors)");
        ulong present = (ulong)(file.Length - header.KernelOffset);
        if (header.KernelBytes == 0 || present < header.KernelBytes)
            throw new ImageLoadException(name,
                $"the file is truncated: the header's syssize says 0x{header.KernelBytes:x} bytes of protected-mode kernel, the file has 0x{present:x}");
        return header;
    }

    private static ushort U16(ReadOnlySpan<byte> b, int at) => BinaryPrimitives.ReadUInt16LittleEndian(b[at..]);
    private static uint U32(ReadOnlySpan<byte> b, int at) => BinaryPrimitives.ReadUInt32LittleEndian(b[at..]);
}
