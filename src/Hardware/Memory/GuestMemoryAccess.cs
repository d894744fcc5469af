using System.Runtime.InteropServices;

namespace Actorvisor.Hardware.Memory;

/// <summary>
/// Copies to and from guest RAM through native code, for guest RAM that may be lazy (userfaultfd, see
/// Lazy/LazyGuestMemory). A thread that touches a missing page blocks in the kernel until the fault reader
/// installs it. If that thread is running managed code, it is in the runtime's cooperative mode: a garbage
/// collection started meanwhile waits for it to reach a safe point, the fault reader (managed too) waits for the
/// collection, and nothing moves again. Inside a P/Invoke the thread is in preemptive mode, so the collection
/// goes on without it. Every managed path that may touch lazy guest RAM (the software accelerator's memory
/// hooks, page walks, guest-memory reads for callers) goes through here; the accelerators themselves touch it
/// from native code (Unicorn's TCG, KVM_RUN).
/// </summary>
public static unsafe partial class GuestMemoryAccess
{
    [LibraryImport("libc", EntryPoint = "memcpy")]
    private static partial nint NativeMemcpy(void* destination, void* source, nuint count);

    [LibraryImport("libc", EntryPoint = "memset")]
    private static partial nint NativeMemset(void* destination, int value, nuint count);

    /// <summary>Zeroes <paramref name="count"/> bytes at host address <paramref name="destination"/>.</summary>
    public static void Clear(nint destination, nuint count)
    {
        if (count == 0) return;
        NativeMemset((void*)destination, 0, count);
    }

    /// <summary>Copies <paramref name="destination"/>.Length bytes from host address <paramref name="source"/>.</summary>
    public static void CopyOut(nint source, Span<byte> destination)
    {
        if (destination.IsEmpty) return;
        fixed (byte* d = destination) NativeMemcpy(d, (void*)source, (nuint)destination.Length);
    }

    /// <summary>Copies <paramref name="source"/> to host address <paramref name="destination"/>.</summary>
    public static void CopyIn(ReadOnlySpan<byte> source, nint destination)
    {
        if (source.IsEmpty) return;
        fixed (byte* s = source) NativeMemcpy((void*)destination, s, (nuint)source.Length);
    }

    /// <summary>
    /// Makes the page holding <paramref name="host"/> present by reading one byte of it in native code, so that
    /// managed code may then access that page directly (a single aligned store stays one instruction, as the
    /// guest's own store is). Guest RAM is never unmapped or discarded while a vCPU runs on it.
    /// </summary>
    public static void Prefault(nint host)
    {
        byte b;
        NativeMemcpy(&b, (void*)host, 1);
    }
}
