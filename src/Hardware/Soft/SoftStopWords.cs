using System.Runtime.CompilerServices;

namespace Actorvisor.Hardware.Soft;

/// <summary>
/// The two ints a vCPU's stop hooks read while Unicorn runs guest code (pinned for the vCPU's life, passed to the hooks
/// as user data): word 0 asks for a stop (any thread sets it; only the run thread clears it, before entering the guest),
/// word 1 is the precise-mode interrupt window (<see cref="WindowOff"/>, <see cref="WindowArmed"/>: the code hook stops
/// before the second instruction, <see cref="WindowFired"/>: it did).
/// </summary>
internal sealed unsafe class SoftStopWords
{
    /// <summary>No interrupt waits for its window.</summary>
    public const int WindowOff = 0;

    /// <summary>An interrupt waits: the code hook arms a stop at the first instruction, taken before the second.</summary>
    public const int WindowArmed = 1;

    /// <summary>The code hook armed the stop: the run loop re-enters to deliver the interrupt.</summary>
    public const int WindowFired = 2;

    private readonly int[] _words = GC.AllocateArray<int>(2, pinned: true);

    /// <summary>The address of word 0, the hooks' user data.</summary>
    public nint Address => (nint)Unsafe.AsPointer(ref _words[0]);

    /// <summary>Asks the hooks to stop emulation at the next block start (next instruction in precise mode); any thread.</summary>
    public void RequestStop() => Volatile.Write(ref _words[0], 1);

    /// <summary>True while a stop is requested.</summary>
    public bool StopRequested => Volatile.Read(ref _words[0]) != 0;

    /// <summary>Clears the stop request and sets the window word (run thread, before entering the guest).</summary>
    public void Reset(int window)
    {
        Volatile.Write(ref _words[1], window);
        Volatile.Write(ref _words[0], 0);
    }

    /// <summary>The window word as the hooks left it.</summary>
    public int Window => Volatile.Read(ref _words[1]);
}
