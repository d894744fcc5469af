using Actorvisor.Hardware.Devices;
using Actorvisor.Hardware.Guests;
using Actorvisor.Hardware.X86;
using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

namespace Actorvisor.Actors.Tests.Support;

/// <summary>Small guests for the actor tests, assembled with Iced (protected mode, loaded at GuestLayout.ImageBase).</summary>
public static class TestGuests
{
    /// <summary>The value that, written into ECX of a spinning vCPU, makes <see cref="Spin"/> exit.</summary>
    public const uint ReleaseMagic = 0x5eed_1234;

    /// <summary>The result code a released spinner exits with (the low byte of <see cref="ReleaseMagic"/>).</summary>
    public const int ReleasedResultCode = (int)(ReleaseMagic & 0xff);

    /// <summary>The port <see cref="OutThenSpin"/> writes once.</summary>
    public const ushort ProbePort = 0x80;

    /// <summary>
    /// Every vCPU counts in EBX forever without a single exit, until ECX holds <see cref="ReleaseMagic"/>; then it
    /// writes CL to the debug-exit port (result code <see cref="ReleasedResultCode"/>).
    /// </summary>
    public static GuestImage Spin(int vcpus = 1) => Build("spin", vcpus, a =>
    {
        var loop = a.CreateLabel();
        a.xor(ebx, ebx);
        a.xor(ecx, ecx);
        a.Label(ref loop);
        a.inc(ebx);
        a.cmp(ecx, ReleaseMagic);
        a.jne(loop);
        a.mov(al, cl);
        ExitWithAl(a);
    });

    /// <summary>Guest-physical address <see cref="SpinThenStore"/> writes to once released (outside the test RAM).</summary>
    public const uint StoreAddress = 0x4000_0000;

    /// <summary>The dword <see cref="SpinThenStore"/> writes.</summary>
    public const uint StoredValue = 0xfeed_face;

    /// <summary>Spins like <see cref="Spin"/>; once released, stores <see cref="StoredValue"/> at <see cref="StoreAddress"/> and exits.</summary>
    public static GuestImage SpinThenStore() => Build("spin-then-store", 1, a =>
    {
        var loop = a.CreateLabel();
        a.xor(ebx, ebx);
        a.xor(ecx, ecx);
        a.Label(ref loop);
        a.inc(ebx);
        a.cmp(ecx, ReleaseMagic);
        a.jne(loop);
        a.mov(__dword_ptr[StoreAddress], StoredValue);
        a.mov(al, cl);
        ExitWithAl(a);
    });

    /// <summary>Guest-physical address <see cref="StoreThenSpin"/> writes to first (inside the test RAM).</summary>
    public const uint DataAddress = (uint)GuestLayout.DataBase;

    /// <summary>Stores <see cref="StoredValue"/> at <see cref="DataAddress"/>, then spins like <see cref="Spin"/>.</summary>
    public static GuestImage StoreThenSpin() => Build("store-then-spin", 1, a =>
    {
        var loop = a.CreateLabel();
        a.mov(__dword_ptr[DataAddress], StoredValue);
        a.xor(ebx, ebx);
        a.xor(ecx, ecx);
        a.Label(ref loop);
        a.inc(ebx);
        a.cmp(ecx, ReleaseMagic);
        a.jne(loop);
        a.mov(al, cl);
        ExitWithAl(a);
    });

    /// <summary>Writes one byte to <see cref="ProbePort"/>, then spins like <see cref="Spin"/>.</summary>
    public static GuestImage OutThenSpin() => Build("out-then-spin", 1, a =>
    {
        var loop = a.CreateLabel();
        a.xor(ebx, ebx);
        a.xor(ecx, ecx);
        a.mov(al, 1);
        a.@out((byte)ProbePort, al);
        a.Label(ref loop);
        a.inc(ebx);
        a.cmp(ecx, ReleaseMagic);
        a.jne(loop);
        a.mov(al, cl);
        ExitWithAl(a);
    });

    private static void ExitWithAl(Assembler a)
    {
        var halt = a.CreateLabel();
        a.@out((byte)DebugExitDevice.DefaultPort, al);
        a.Label(ref halt);
        a.hlt();
        a.jmp(halt);
    }

    /// <summary>Polls COM1's line status until a byte was received, then exits with that byte as its result code.</summary>
    public static GuestImage EchoFirstReceivedByte() => Build("echo-first-received-byte", 1, a =>
    {
        var wait = a.CreateLabel();
        a.mov(dx, 0x3fd);
        a.Label(ref wait);
        a.@in(al, dx); // LSR: bit 0 = data ready
        a.test(al, 1);
        a.jz(wait);
        a.mov(dx, 0x3f8);
        a.@in(al, dx); // RBR
        ExitWithAl(a);
    });

    private static GuestImage Build(string name, int vcpus, Action<Assembler> program)
    {
        var a = new Assembler(32);
        program(a);
        using var stream = new MemoryStream();
        a.Assemble(new StreamCodeWriter(stream), GuestLayout.ImageBase);
        return new GuestImage(name, stream.ToArray(), GuestLayout.ImageBase, GuestLayout.ImageBase, BootMode.Protected, vcpus, $"test guest: {name}");
    }
}
