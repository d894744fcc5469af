using Actorvisor.Hardware.Accel;
using Actorvisor.Hardware.Devices;
using Actorvisor.Hardware.Guests;
using Actorvisor.Hardware.X86;
using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

namespace Actorvisor.Actors.Tests.AsyncPf;

/// <summary>Guests that touch lazy memory, and the port device they report to.</summary>
public static class LazyGuests
{
    /// <summary>Where the tests put lazy memory: 1 GiB, far above the 4 MiB of ordinary test RAM.</summary>
    public const ulong LazyBase = 0x4000_0000;

    /// <summary>The port a <see cref="Toucher"/> vCPU writes its index to when it is done.</summary>
    public const ushort DonePort = 0x81;

    /// <summary>Where vCPU n stores the sum of what it read: the dword at DataBase + 4n of ordinary RAM.</summary>
    public static ulong SumAddress(int vcpu) => GuestLayout.DataBase + 4UL * (ulong)vcpu;

    /// <summary>
    /// Protected mode, <paramref name="vcpus"/> vCPUs. vCPU n reads <paramref name="pagesPerVcpu"/> lazy pages, page
    /// k at <see cref="LazyBase"/> + (n * pagesPerVcpu + k) * <paramref name="pageStride"/> pages, summing the first
    /// <paramref name="dwordsPerPage"/> dwords of each; stores the sum at <see cref="SumAddress"/>(n), writes n to
    /// <see cref="DonePort"/> and spins (so that lazy memory stays mapped until the test stops the VM).
    /// </summary>
    public static GuestImage Toucher(int vcpus, int pagesPerVcpu, int pageStride = 1, int dwordsPerPage = 1024)
    {
        uint pageBytes = (uint)pageStride * 4096;
        var a = new Assembler(32);
        var page = a.CreateLabel();
        var dword = a.CreateLabel();
        var spin = a.CreateLabel();
        a.mov(ebp, edi);
        a.mov(eax, edi);
        a.imul(eax, eax, (int)((uint)pagesPerVcpu * pageBytes));
        a.add(eax, (uint)LazyBase);
        a.mov(esi, eax);
        a.mov(ecx, (uint)pagesPerVcpu);
        a.xor(edx, edx);
        a.Label(ref page);
        a.mov(ebx, (uint)dwordsPerPage);
        a.mov(edi, esi);
        a.Label(ref dword);
        a.add(edx, __dword_ptr[edi]);
        a.add(edi, 4);
        a.dec(ebx);
        a.jnz(dword);
        a.add(esi, pageBytes);
        a.dec(ecx);
        a.jnz(page);
        a.mov(__dword_ptr[ebp * 4 + (int)GuestLayout.DataBase], edx);
        a.mov(eax, ebp);
        a.@out((byte)DonePort, al);
        a.Label(ref spin);
        a.pause();
        a.jmp(spin);
        using var stream = new MemoryStream();
        a.Assemble(new StreamCodeWriter(stream), GuestLayout.ImageBase);
        return new GuestImage("lazy-toucher", stream.ToArray(), GuestLayout.ImageBase, GuestLayout.ImageBase, BootMode.Protected, vcpus,
            $"test guest: {vcpus} vCPUs each read {pagesPerVcpu} lazy pages (stride {pageStride}, {dwordsPerPage} dwords each)");
    }

    /// <summary>
    /// Protected mode, one vCPU: reads the first dword of lazy page 2k for k = 0, 1, 2 ... forever, wrapping
    /// after <paramref name="pages"/> pages. Never touches an odd page.
    /// </summary>
    public static GuestImage EvenPageScanner(int pages)
    {
        var a = new Assembler(32);
        var restart = a.CreateLabel();
        var next = a.CreateLabel();
        a.Label(ref restart);
        a.mov(esi, (uint)LazyBase);
        a.mov(ecx, (uint)(pages / 2));
        a.Label(ref next);
        a.add(edx, __dword_ptr[esi]);
        a.add(esi, 2 * 4096);
        a.dec(ecx);
        a.jnz(next);
        a.jmp(restart);
        using var stream = new MemoryStream();
        a.Assemble(new StreamCodeWriter(stream), GuestLayout.ImageBase);
        return new GuestImage("even-page-scanner", stream.ToArray(), GuestLayout.ImageBase, GuestLayout.ImageBase, BootMode.Protected, 1,
            $"test guest: reads every even page of {pages} lazy pages, forever");
    }

    /// <summary>The sum <see cref="Toucher"/> stores for vCPU <paramref name="vcpu"/>, computed from the image it reads.</summary>
    public static uint ExpectedSum(byte[] image, int vcpu, int pagesPerVcpu, int pageStride = 1, int dwordsPerPage = 1024)
    {
        uint sum = 0;
        for (int k = 0; k < pagesPerVcpu; k++)
        {
            int offset = (vcpu * pagesPerVcpu + k) * pageStride * 4096;
            for (int d = 0; d < dwordsPerPage; d++) sum += BitConverter.ToUInt32(image, offset + d * 4);
        }
        return sum;
    }
}

/// <summary>Counts the vCPUs that wrote to <see cref="LazyGuests.DonePort"/>; <see cref="AllDone"/> is set once every one did.</summary>
public sealed class DoneDevice(int vcpus) : IPortIoDevice
{
    private int _done;

    /// <summary>Set when every vCPU reported.</summary>
    public ManualResetEventSlim AllDone { get; } = new();

    /// <inheritdoc />
    public string Name => "lazy-done";

    /// <inheritdoc />
    public ExitAction OnPortIo(ushort offset, IoDirection direction, Span<byte> data)
    {
        if (direction == IoDirection.In) data.Clear();
        else if (Interlocked.Increment(ref _done) == vcpus) AllDone.Set();
        return ExitAction.Continue;
    }
}
