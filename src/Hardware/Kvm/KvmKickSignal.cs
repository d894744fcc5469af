using Actorvisor.Hardware.Native;
using Tmds.Linux;
using static Tmds.Linux.LibC;

namespace Actorvisor.Hardware.Kvm;

/// <summary>
/// The signal that kicks a vCPU thread out of a running KVM_RUN, and the thread-mask bookkeeping around it.
///
/// Why SIGURG, blocked, with KVM_SET_SIGNAL_MASK (QEMU's SIG_IPI scheme, api.rst 4.17):
/// - A kick must make a blocked KVM_RUN return -EINTR. KVM checks signal_pending() before and during guest
///   entry, so the signal has to be <i>pending</i> on the vCPU thread; it never has to be <i>delivered</i>.
/// - The vCPU thread keeps SIGURG blocked in its own mask, and tells KVM (KVM_SET_SIGNAL_MASK) to unblock it
///   only while inside KVM_RUN. The kernel then saves the thread's mask in real_blocked, and a signal that is
///   blocked or in real_blocked is never discarded as ignored (kernel/signal.c sig_ignored), so a SIGURG
///   sent with tgkill during KVM_RUN interrupts it. When KVM_RUN returns, the thread's mask (SIGURG
///   blocked) is back, the signal stays pending and no handler ever runs; <see cref="DrainPending"/> takes
///   it off with a zero-timeout sigtimedwait.
/// - SIGURG's default action is "ignore" and the .NET runtime installs no handler for it (it uses SIGRTMIN
///   for activation injection, SIGCHLD/SIGCONT/SIGWINCH/SIGTTOU for System.Native). So even a stray kick
///   that lands after Run returned, or on a thread that has SIGURG unblocked, is dropped by the kernel
///   instead of killing the process, which the runtime's SIGRTMIN or a SIGUSR signal could not guarantee
///   (SIGRTMIN's handler belongs to the runtime and can be turned off; the default action of SIGUSR1/2 and
///   SIGRTMIN+n is to terminate).
/// Raw syscalls are used because the kernel's sigset is 8 bytes on x86-64 (glibc's sigset_t is 128).
/// </summary>
internal static unsafe class KvmKickSignal
{
    /// <summary>SIGURG.</summary>
    public const int Signal = 23;

    /// <summary>The kernel sigset bit of <see cref="Signal"/>.</summary>
    public const ulong Bit = 1UL << (Signal - 1);

    // x86-64 syscall numbers (arch/x86/entry/syscalls/syscall_64.tbl).
    private const long SysRtSigprocmask = 14, SysRtSigtimedwait = 128, SysTgkill = 234;
    private const long SigBlock = 0;
    private const long KernelSigsetSize = sizeof(ulong);

    [ThreadStatic] private static ulong t_runMask;
    [ThreadStatic] private static bool t_blocked;

    /// <summary>The calling thread's kernel thread id (gettid).</summary>
    public static int CurrentThreadId() => Sys.CurrentThreadId();

    /// <summary>
    /// Blocks the kick signal on the calling thread (once per thread) and returns the mask KVM_RUN should
    /// run with: the thread's previous mask without the kick signal.
    /// </summary>
    public static ulong BlockOnCurrentThread()
    {
        if (!t_blocked)
        {
            ulong set = Bit, old = 0;
            Call(SysRtSigprocmask, SigBlock, (long)&set, (long)&old, KernelSigsetSize, "rt_sigprocmask(SIG_BLOCK, SIGURG)");
            t_runMask = old & ~Bit;
            t_blocked = true;
        }
        return t_runMask;
    }

    /// <summary>Sends the kick signal to thread <paramref name="tid"/> of this process; a thread that has exited is ignored.</summary>
    public static void Send(int tid)
    {
        long r = Raw(SysTgkill, getpid(), tid, Signal, 0);
        if (r < 0 && errno != ESRCH) throw new SyscallException("tgkill(SIGURG)", errno, $"thread {tid}");
    }

    /// <summary>Removes any pending kick signal from the calling thread, which must have it blocked.</summary>
    public static void DrainPending()
    {
        ulong set = Bit;
        var zero = new timespec();
        while (true)
        {
            long r = Raw(SysRtSigtimedwait, (long)&set, 0, (long)&zero, KernelSigsetSize);
            if (r == Signal) continue;
            if (r < 0 && (errno == EAGAIN || errno == EINTR)) return;
            if (r < 0) throw new SyscallException("rt_sigtimedwait(SIGURG)", errno);
        }
    }

    private static long Call(long nr, long a1, long a2, long a3, long a4, string name) => Sys.Check(Raw(nr, a1, a2, a3, a4), name);

    // Safe: every pointer argument passed here points at a local of the caller that outlives the call.
    private static long Raw(long nr, long a1, long a2, long a3, long a4) =>
        (long)syscall(Arg(nr), Arg(a1), Arg(a2), Arg(a3), Arg(a4));

    private static syscall_arg Arg(long v) => (syscall_arg)(void*)v;
}
