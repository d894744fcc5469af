using Actorvisor.Hardware.Guests;
using Actorvisor.Hardware.X86;
using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

namespace Actorvisor.Actors.Tests.AsyncPf;

/// <summary>
/// What the protected-mode async-PF test guests (<see cref="GuestVisibleAsyncPfTests"/>, <see cref="AsyncPfSkippingGuest"/>)
/// share: where their #PF and page-ready handlers and their IDT go in the image, 32-bit assembly and WRMSR, and wiring
/// the two handlers into the IDT.
/// </summary>
internal static class ProtectedModeAsyncPfGuest
{
    /// <summary>Where the #PF handler is assembled.</summary>
    public const ulong PfHandler = GuestLayout.ImageBase + 0x400;

    /// <summary>Where the page-ready handler is assembled.</summary>
    public const ulong ReadyHandler = GuestLayout.ImageBase + 0x600;

    /// <summary>The IDT (256 32-bit gates).</summary>
    public const ulong Idt = GuestLayout.ImageBase + 0x800;

    /// <summary>The LIDT operand (limit, base).</summary>
    public const ulong IdtPointer = GuestLayout.ImageBase + 0x1000;

    /// <summary>32-bit code assembled at <paramref name="origin"/>.</summary>
    public static byte[] Assemble(ulong origin, Action<Assembler> build)
    {
        var a = new Assembler(32);
        build(a);
        using var stream = new MemoryStream();
        a.Assemble(new StreamCodeWriter(stream), origin);
        return stream.ToArray();
    }

    /// <summary>WRMSR of <paramref name="value"/> (high half 0) into MSR <paramref name="index"/>.</summary>
    public static void WriteMsr(Assembler a, uint index, uint value)
    {
        a.mov(ecx, index);
        a.mov(eax, value);
        a.xor(edx, edx);
        a.wrmsr();
    }

    /// <summary>
    /// Copies the handlers into <paramref name="image"/> (loaded at <see cref="GuestLayout.ImageBase"/>), points gate 14 (#PF)
    /// and gate <paramref name="readyVector"/> at them and writes the LIDT operand.
    /// </summary>
    public static void WireHandlers(byte[] image, byte[] pfHandler, byte[] readyHandler, int readyVector)
    {
        pfHandler.CopyTo(image, (int)(PfHandler - GuestLayout.ImageBase));
        readyHandler.CopyTo(image, (int)(ReadyHandler - GuestLayout.ImageBase));
        Gate(image, 14, PfHandler);
        Gate(image, readyVector, ReadyHandler);
        BitConverter.TryWriteBytes(image.AsSpan((int)(IdtPointer - GuestLayout.ImageBase)), (ushort)(256 * 8 - 1));
        BitConverter.TryWriteBytes(image.AsSpan((int)(IdtPointer - GuestLayout.ImageBase) + 2), (uint)Idt);
    }

    private static void Gate(byte[] image, int vector, ulong handler)
    {
        int at = (int)(Idt - GuestLayout.ImageBase) + vector * 8;
        BitConverter.TryWriteBytes(image.AsSpan(at), (uint)(handler & 0xffff) | (uint)BootGdt.Code32Selector << 16);
        BitConverter.TryWriteBytes(image.AsSpan(at + 4), (uint)(handler & 0xffff_0000) | 0x8E00);
    }
}
