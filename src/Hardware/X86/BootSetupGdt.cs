namespace Actorvisor.Hardware.X86;

/// <summary>
/// The GDT BootSetup writes at <see cref="GuestLayout.GdtBase"/>, and the segment-register caches that match
/// it. KVM checks the caches (KVM_SET_SREGS) while the software accelerator reloads segments from the
/// table by selector, so both must describe the same descriptors.
/// <code>
///   0x00  null
///   0x08  32-bit code, base 0, limit 4 GiB (protected mode CS)
///   0x10  data, base 0, limit 4 GiB (DS, ES, FS, GS, SS in both modes)
///   0x18  64-bit code (long mode CS)
///   0x20  TSS at GuestLayout.TssBase (16-byte system descriptor, as long mode requires)
/// </code>
/// </summary>
public static class BootGdt
{
    /// <summary>Selector of the flat 32-bit code segment.</summary>
    public const ushort Code32Selector = 0x08;
    /// <summary>Selector of the flat data segment.</summary>
    public const ushort DataSelector = 0x10;
    /// <summary>Selector of the 64-bit code segment.</summary>
    public const ushort Code64Selector = 0x18;
    /// <summary>Selector of the TSS.</summary>
    public const ushort TssSelector = 0x20;
    /// <summary>GDTR limit: five 8-byte slots plus the TSS descriptor's upper half.</summary>
    public const ushort Limit = 0x2f;

    // Descriptor types (Intel SDM vol. 3, 3.4.5.1): code execute/read accessed, data read/write accessed,
    // busy 32/64-bit TSS (TR must hold a busy TSS for VM entry).
    private const byte CodeType = 0xb, DataType = 0x3, BusyTssType = 0xb;

    /// <summary>The flat 32-bit code segment.</summary>
    public static Segment Code32 => new()
    {
        Base = 0, Limit = 0xffff_ffff, Selector = Code32Selector, Type = CodeType, Present = true, S = true, Db = true, G = true,
    };

    /// <summary>The 64-bit code segment (L=1, D=0; base and limit are ignored in 64-bit mode).</summary>
    public static Segment Code64 => new()
    {
        Base = 0, Limit = 0xffff_ffff, Selector = Code64Selector, Type = CodeType, Present = true, S = true, L = true, G = true,
    };

    /// <summary>The flat data segment.</summary>
    public static Segment Data => new()
    {
        Base = 0, Limit = 0xffff_ffff, Selector = DataSelector, Type = DataType, Present = true, S = true, Db = true, G = true,
    };

    /// <summary>The TSS the task register points at (never used for a task switch).</summary>
    public static Segment Tss => new()
    {
        Base = GuestLayout.TssBase, Limit = GuestLayout.TssLimit, Selector = TssSelector, Type = BusyTssType, Present = true,
    };

    /// <summary>The 8-byte descriptor for <paramref name="s"/> (low half only for system descriptors).</summary>
    public static ulong Encode(Segment s)
    {
        uint limit = s.G ? s.Limit >> 12 : s.Limit;
        if (limit > 0xfffff) throw new ArgumentOutOfRangeException(nameof(s), $"segment limit 0x{s.Limit:x} does not fit a descriptor without G");
        ulong access = (s.Present ? 0x80UL : 0) | ((ulong)(s.Dpl & 3) << 5) | (s.S ? 0x10UL : 0) | (s.Type & 0xfUL);
        ulong flags = (s.G ? 8UL : 0) | (s.Db ? 4UL : 0) | (s.L ? 2UL : 0) | (s.Avl ? 1UL : 0);
        return (limit & 0xffffUL)
            | (s.Base & 0xffffffUL) << 16
            | access << 40
            | ((limit >> 16) & 0xfUL) << 48
            | flags << 52
            | ((s.Base >> 24) & 0xffUL) << 56;
    }

    /// <summary>The GDT's bytes: <see cref="Limit"/> + 1 of them.</summary>
    public static byte[] Build()
    {
        var gdt = new byte[Limit + 1];
        var span = gdt.AsSpan();
        BitConverter.TryWriteBytes(span[Code32Selector..], Encode(Code32));
        BitConverter.TryWriteBytes(span[DataSelector..], Encode(Data));
        BitConverter.TryWriteBytes(span[Code64Selector..], Encode(Code64));
        BitConverter.TryWriteBytes(span[TssSelector..], Encode(Tss));
        // Upper half of the 16-byte long-mode TSS descriptor: base bits 63:32 (zero), reserved zero.
        BitConverter.TryWriteBytes(span[(TssSelector + 8)..], Tss.Base >> 32);
        return gdt;
    }
}
