using System.Runtime.CompilerServices;

namespace Actorvisor.Hardware.Soft;

/// <summary>
/// The two ints a vCPU's stop hooks read while Unicorn runs guest code (pinned for the vCPU's life, passed to the hooks
/// as user data): word 0 asks for a stop (any thread sets it; only the run thread clears it, before entering the guest),
/// word 1 is the code hooks' interrupt window (<see cref="WindowOff"/>, <see cref="WindowArmed"/>: the code hook stops
/// before the second instruction, <see cref="WindowFired"/>: it did). Then, written by the hooks: the qword at 8 is where
/// a hook stopped emulation (the block start or the instruction it stopped before; 0: no hook stopped), the qword at 16
/// and the dword at 24 the start and size of the last translation block entered.
/// </summary>
/// <remarks>
/// Where a hook stopped matters once any code hook is installed: Unicorn 2.0.1 then no longer rewinds RIP to a block's
/// start when it leaves the block at its start check, and a block entered through a chained direct jump has not written
/// RIP yet, so the run loop puts RIP back at <see cref="StopAddress"/> itself (Soft/README "Stops with code hooks").
/// </remarks>
internal sealed unsafe class SoftStopWords
{
    /// <summary>No interrupt waits for its window.</summary>
    public const int WindowOff = 0;

    /// <summary>An interrupt waits: the code hook arms a stop at the first instruction, taken before the second.</summary>
    public const int WindowArmed = 1;

    /// <summary>The code hook armed the stop: the run loop re-enters to deliver the interrupt.</summary>
    public const int WindowFired = 2;

    private readonly int[] _words = GC.AllocateArray<int>(8, pinned: true);

    /// <summary>The address of word 0, the hooks' user data.</summary>
    public nint Address => (nint)Unsafe.AsPointer(ref _words[0]);

    /// <summary>Asks the hooks to stop emulation at the next block start (next instruction in a precise block); any thread.</summary>
    public void RequestStop() => Volatile.Write(ref _words[0], 1);

    /// <summary>True while a stop is requested.</summary>
    public bool StopRequested => Volatile.Read(ref _words[0]) != 0;

    /// <summary>Clears the stop request and the stop address and sets the window word (run thread, before entering the guest).</summary>
    public void Reset(int window)
    {
        Volatile.Write(ref _words[1], window);
        Volatile.Write(ref Qword(8), 0);
        Volatile.Write(ref _words[0], 0);
    }

    /// <summary>Where a hook stopped emulation during the last uc_emu_start (the instruction to resume at), or 0.</summary>
    public ulong StopAddress => Volatile.Read(ref Qword(8));

    /// <summary>The start of the last translation block entered (guest-virtual; the block hook writes it).</summary>
    public ulong LastBlockStart => Volatile.Read(ref Qword(16));

    /// <summary>The size in bytes of the last translation block entered.</summary>
    public uint LastBlockSize => (uint)Volatile.Read(ref _words[6]);

    /// <summary>Records a stop at <paramref name="address"/> (the managed hooks; the native ones write the same word).</summary>
    public static void RecordStop(nint words, ulong address) => Volatile.Write(ref *(ulong*)(words + 8), address);

    /// <summary>Records the block just entered (the managed block hook).</summary>
    public static void RecordBlock(nint words, ulong address, uint size)
    {
        *(ulong*)(words + 16) = address;
        *(uint*)(words + 24) = size;
    }

    private ref ulong Qword(int offset) => ref Unsafe.As<int, ulong>(ref _words[offset / 4]);

    /// <summary>The window word as the hooks left it.</summary>
    public int Window => Volatile.Read(ref _words[1]);
}
