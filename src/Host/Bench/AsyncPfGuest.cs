using Actorvisor.Hardware.Accel;
using Actorvisor.Hardware.Devices;
using Actorvisor.Hardware.Guests;
using Actorvisor.Hardware.X86;
using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

namespace Actorvisor.Host.Bench;

/// <summary>The guest of `bench asyncpf`: vCPUs touching lazy pages sequentially, and the device that times them.</summary>
public static class AsyncPfGuest
{
    /// <summary>Where the benchmark puts lazy memory: 1 GiB, above the guest's ordinary RAM.</summary>
    public const ulong LazyBase = 0x4000_0000;

    /// <summary>The port each vCPU writes its index to when it has touched its pages.</summary>
    public const ushort DonePort = 0x81;

    /// <summary>Where vCPU n leaves the sum of the dwords it read: DataBase + 4n of ordinary RAM.</summary>
    public static ulong SumAddress(int vcpu) => GuestLayout.DataBase + 4UL * (ulong)vcpu;

    /// <summary>
    /// Protected mode, <paramref name="vcpus"/> vCPUs: vCPU n reads the first dword of each of its
    /// <paramref name="pagesPerVcpu"/> lazy pages (pages n * pagesPerVcpu onwards, in order), leaves their sum at
    /// <see cref="SumAddress"/>(n), writes n to <see cref="DonePort"/> and spins until stopped.
    /// </summary>
    public static GuestImage SequentialToucher(int vcpus, int pagesPerVcpu)
    {
        const ulong origin = GuestLayout.ImageBase;
        var a = new Assembler(32);
        var touch = a.CreateLabel();
        var spin = a.CreateLabel();
        a.mov(ebp, edi);
        a.mov(eax, edi);
        a.imul(eax, eax, pagesPerVcpu * 4096);
        a.add(eax, (uint)LazyBase);
        a.mov(esi, eax);
        a.mov(ecx, (uint)pagesPerVcpu);
        a.xor(edx, edx);
        a.Label(ref touch);
        a.add(edx, __dword_ptr[esi]);
        a.add(esi, 4096);
        a.dec(ecx);
        a.jnz(touch);
        a.mov(__dword_ptr[ebp * 4 + (int)GuestLayout.DataBase], edx);
        a.mov(eax, ebp);
        a.@out((byte)DonePort, al);
        a.Label(ref spin);
        a.pause();
        a.jmp(spin);
        var bytes = Assemble(a, origin);
        return new GuestImage("asyncpf-toucher", bytes, origin, origin, BootMode.Protected, vcpus,
            $"protected mode, {vcpus} vCPUs: each reads one dword of each of its {pagesPerVcpu} lazy pages in order");
    }

    private static byte[] Assemble(Assembler a, ulong origin)
    {
        using var stream = new MemoryStream();
        a.Assemble(new StreamCodeWriter(stream), origin);
        return stream.ToArray();
    }

    /// <summary>The sum vCPU <paramref name="vcpu"/> leaves, from the image it reads.</summary>
    public static uint ExpectedSum(ReadOnlySpan<byte> image, int vcpu, int pagesPerVcpu)
    {
        uint sum = 0;
        for (int k = 0; k < pagesPerVcpu; k++) sum += BitConverter.ToUInt32(image[((vcpu * pagesPerVcpu + k) * 4096)..]);
        return sum;
    }
}

/// <summary>Completes <see cref="AllDone"/> when every vCPU has written to <see cref="AsyncPfGuest.DonePort"/>.</summary>
public sealed class AsyncPfDoneDevice(int vcpus) : IPortIoDevice
{
    private int _done;

    /// <summary>Completes when the last vCPU reports.</summary>
    public TaskCompletionSource AllDone { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <inheritdoc />
    public string Name => "asyncpf-done";

    /// <inheritdoc />
    public ExitAction OnPortIo(ushort offset, IoDirection direction, Span<byte> data)
    {
        if (direction == IoDirection.In) data.Clear();
        else if (Interlocked.Increment(ref _done) == vcpus) AllDone.TrySetResult();
        return ExitAction.Continue;
    }

}
