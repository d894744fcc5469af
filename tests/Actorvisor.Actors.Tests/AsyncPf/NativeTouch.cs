using System.Runtime.InteropServices;

namespace Actorvisor.Actors.Tests.AsyncPf;

/// <summary>
/// Touches lazy memory the way an accelerator does: from native code (libc memcpy), so the .NET thread is in
/// preemptive mode while it waits on the fault and a GC elsewhere does not wait for it (the product's
/// <see cref="Hardware.Memory.GuestMemoryAccess"/>).
/// </summary>
internal static unsafe class NativeTouch
{
    /// <summary>Reads the dword at <paramref name="address"/> in native code.</summary>
    public static uint ReadDword(nint address)
    {
        uint value = 0;
        Hardware.Memory.GuestMemoryAccess.CopyOut(address, new Span<byte>(&value, 4));
        return value;
    }

    /// <summary>The calling thread's kernel thread id.</summary>
    public static int ThreadId() => (int)(long)Tmds.Linux.LibC.syscall((Tmds.Linux.syscall_arg)(void*)186L); // SYS_gettid

    /// <summary>Runs <paramref name="body"/> on a new thread; the task ends with it (with its exception, if any).</summary>
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

/// <summary>Page N's dword k is N * 1024 + k: every dword says where it came from.</summary>
public sealed class PatternStore : Hardware.Lazy.IBackingStore
{
    /// <summary>The dword at byte <paramref name="offset"/> of the region.</summary>
    public static uint Expected(ulong offset) => (uint)(offset / 4096 * 1024 + offset % 4096 / 4);

    /// <inheritdoc />
    public string Description => "pattern";

    /// <inheritdoc />
    public ValueTask<Hardware.Lazy.PageContent> ReadPageAsync(ulong pageIndex, Memory<byte> page, CancellationToken cancellationToken = default)
    {
        var dwords = MemoryMarshal.Cast<byte, uint>(page.Span);
        for (int k = 0; k < dwords.Length; k++) dwords[k] = (uint)(pageIndex * 1024 + (ulong)k);
        return ValueTask.FromResult(Hardware.Lazy.PageContent.Data);
    }
}
