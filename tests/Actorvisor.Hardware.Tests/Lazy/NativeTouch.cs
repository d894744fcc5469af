using Actorvisor.Hardware.Memory;

namespace Actorvisor.Hardware.Tests.Lazy;

/// <summary>
/// Touches lazy memory the way an accelerator does: from native code (libc memcpy), so the .NET thread is in
/// preemptive mode while it is blocked on the fault and a GC elsewhere does not wait for it (the product's
/// <see cref="GuestMemoryAccess"/>).
/// </summary>
internal static unsafe class NativeTouch
{
    /// <summary>Copies <c>destination.Length</c> bytes at <paramref name="source"/> into <paramref name="destination"/> in native code.</summary>
    public static void Read(nint source, Span<byte> destination) => GuestMemoryAccess.CopyOut(source, destination);

    /// <summary>Copies <paramref name="data"/> to <paramref name="destination"/> in native code.</summary>
    public static void Write(nint destination, ReadOnlySpan<byte> data) => GuestMemoryAccess.CopyIn(data, destination);

    /// <summary>The calling thread's kernel thread id.</summary>
    public static int ThreadId() => (int)(long)Tmds.Linux.LibC.syscall((Tmds.Linux.syscall_arg)(void*)186L); // SYS_gettid

    /// <summary>
    /// Runs <paramref name="body"/> on a new thread and returns a task that completes when it ends (with its
    /// exception, if any).
    /// </summary>
    public static Task OnThread(string name, Action body)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var t = new Thread(() =>
        {
            try { body(); done.SetResult(); }
            catch (Exception e) { done.SetException(e); }
        }) { IsBackground = true, Name = name };
        t.Start();
        return done.Task;
    }
}
