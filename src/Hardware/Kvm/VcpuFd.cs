using System.Runtime.CompilerServices;
using Actorvisor.Hardware.Kvm.Abi;
using Actorvisor.Hardware.Native;

namespace Actorvisor.Hardware.Kvm;

/// <summary>
/// A KVM vCPU file descriptor and its mapped kvm_run: vCPU ioctls (api.rst section 4, "vcpu ioctl").
/// One thread runs it at a time; <see cref="RequestImmediateExit"/> may be called from any thread.
/// </summary>
public sealed unsafe class VcpuFd : IDisposable
{
    private readonly FileDescriptor _fd;
    private readonly KvmRunMapping _mapping;

    internal VcpuFd(FileDescriptor fd, int id, int mmapSize)
    {
        _fd = fd;
        Id = id;
        _mapping = new KvmRunMapping(fd, mmapSize);
    }

    /// <summary>The vCPU id given to KVM_CREATE_VCPU.</summary>
    public int Id { get; }

    /// <summary>The owned descriptor.</summary>
    public FileDescriptor Descriptor => _fd;

    /// <summary>
    /// The shared kvm_run structure. Safe to dereference while this vCPU is not disposed: the mapping is
    /// at least sizeof(kvm_run) bytes (checked when mapped) and stays mapped until <see cref="Dispose"/>.
    /// </summary>
    public ref KvmRun RunState => ref *(KvmRun*)_mapping.Address;

    /// <summary>
    /// KVM_RUN: runs the guest until an exit that needs userspace. Returns the exit reason from kvm_run, or
    /// <see cref="KvmExitReason.Intr"/> when a signal or immediate_exit interrupted the call (-EINTR). -EAGAIN (an
    /// application processor woken from its wait for INIT-SIPI) enters again.
    /// </summary>
    public KvmExitReason Run()
    {
        while (true)
        {
            int r = Sys.TryIoctl(_fd, KvmIoctls.Run, null, out int err);
            if (r >= 0) return (KvmExitReason)RunState.ExitReason;
            if (err == Errnos.EINTR) return KvmExitReason.Intr;
            // An application processor that waited in KVM_MP_STATE_UNINITIALIZED and was woken (INIT, SIPI)
            // returns -EAGAIN: its state changed and it is simply entered again.
            if (err == Errnos.EAGAIN) continue;
            throw new SyscallException("ioctl(KVM_RUN)", err, _fd.What);
        }
    }

    /// <summary>
    /// kvm_run.immediate_exit (KVM_CAP_IMMEDIATE_EXIT): while set, KVM_RUN returns -EINTR without entering
    /// the guest. Written with a volatile store so another thread's kick is seen by the next KVM_RUN.
    /// </summary>
    public bool ImmediateExit
    {
        get => Volatile.Read(ref RunState.ImmediateExit) != 0;
        set => Volatile.Write(ref RunState.ImmediateExit, value ? (byte)1 : (byte)0);
    }

    /// <summary>Sets <see cref="ImmediateExit"/>; callable from any thread.</summary>
    public void RequestImmediateExit() => ImmediateExit = true;

    /// <summary>
    /// The data of the current KVM_EXIT_IO: <c>size * count</c> bytes at <c>data_offset</c> in the mapping
    /// (count is above 1 for rep ins/outs). For IN the caller fills it before the next KVM_RUN.
    /// </summary>
    public Span<byte> IoData
    {
        get
        {
            ref var io = ref RunState.Io;
            ulong length = (ulong)io.Size * io.Count;
            if (io.DataOffset > (ulong)_mapping.Size || length > (ulong)_mapping.Size - io.DataOffset)
                throw new InvalidOperationException($"KVM_EXIT_IO data (offset {io.DataOffset}, {length} bytes) lies outside the {_mapping.Size}-byte kvm_run mapping");
            return MappedSpan((int)io.DataOffset, (int)length);
        }
    }

    /// <summary>The data of the current KVM_EXIT_MMIO: <c>len</c> bytes of kvm_run.mmio.data. For reads the caller fills it.</summary>
    public Span<byte> MmioData
    {
        get
        {
            uint len = RunState.Mmio.Len;
            if (len > 8) throw new InvalidOperationException($"KVM_EXIT_MMIO length {len} exceeds the 8-byte data field");
            return MappedSpan(KvmRun.ExitUnionOffset + 8, (int)len);
        }
    }

    // Safe: callers bound offset + length by the mapping size, and the mapping outlives the span's use
    // (a span is only used until the next KVM_RUN on this vCPU's own thread).
    private Span<byte> MappedSpan(int offset, int length) => new((byte*)_mapping.Address + offset, length);

    /// <summary>KVM_GET_REGS.</summary>
    public KvmRegs GetRegs()
    {
        KvmRegs regs;
        Sys.Ioctl(_fd, KvmIoctls.GetRegs, &regs, "KVM_GET_REGS");
        return regs;
    }

    /// <summary>KVM_SET_REGS.</summary>
    public void SetRegs(in KvmRegs regs)
    {
        var copy = regs;
        Sys.Ioctl(_fd, KvmIoctls.SetRegs, &copy, "KVM_SET_REGS");
    }

    /// <summary>KVM_GET_SREGS.</summary>
    public KvmSregs GetSregs()
    {
        KvmSregs sregs;
        Sys.Ioctl(_fd, KvmIoctls.GetSregs, &sregs, "KVM_GET_SREGS");
        return sregs;
    }

    /// <summary>KVM_SET_SREGS.</summary>
    public void SetSregs(in KvmSregs sregs)
    {
        var copy = sregs;
        Sys.Ioctl(_fd, KvmIoctls.SetSregs, &copy, "KVM_SET_SREGS");
    }

    /// <summary>
    /// KVM_INTERRUPT: queues external interrupt <paramref name="vector"/> for injection on the next KVM_RUN (api.rst
    /// 4.16; only without an in-kernel irqchip, and only while kvm_run.ready_for_interrupt_injection is set).
    /// </summary>
    public void Interrupt(byte vector)
    {
        uint irq = vector;
        Sys.Ioctl(_fd, KvmIoctls.Interrupt, &irq, "KVM_INTERRUPT");
    }

    /// <summary>KVM_SET_CPUID2: the CPUID leaves the guest sees (api.rst 4.73). Long mode needs at least 0x80000001.</summary>
    public void SetCpuid2(ReadOnlySpan<KvmCpuidEntry2> entries)
    {
        var buffer = new KvmCpuidBuffer(entries);
        if (buffer.Ioctl(_fd, KvmIoctls.SetCpuid2, out int err) < 0)
            throw new SyscallException($"ioctl(KVM_SET_CPUID2({entries.Length} entries))", err, _fd.What);
    }

    /// <summary>
    /// KVM_GET_CPUID2: the CPUID leaves set on this vCPU. Kernels before 6.4 never write nent back to
    /// userspace for this ioctl, so the buffer starts filled with a sentinel and the count is where the
    /// kernel's entries end (when the kernel does report nent, that wins).
    /// </summary>
    public KvmCpuidEntry2[] GetCpuid2()
    {
        const int capacity = 256; // KVM_MAX_CPUID_ENTRIES: KVM_SET_CPUID2 accepts no more
        var buffer = KvmCpuidBuffer.WithSentinel(capacity);
        if (buffer.Ioctl(_fd, KvmIoctls.GetCpuid2, out int err) < 0)
            throw new SyscallException($"ioctl(KVM_GET_CPUID2({capacity} entries))", err, _fd.What);
        return buffer.Count < capacity ? buffer.Entries() : buffer.EntriesBeforeSentinel();
    }

    /// <summary>
    /// KVM_SET_MSRS: writes <paramref name="entries"/>; returns how many the kernel accepted (it stops at the first
    /// MSR it refuses, so a count below the length names that one).
    /// </summary>
    public int SetMsrs(ReadOnlySpan<KvmMsrEntry> entries)
    {
        int bytes = sizeof(KvmMsrs) + entries.Length * sizeof(KvmMsrEntry);
        var buffer = new byte[bytes];
        fixed (byte* p = buffer)
        {
            ((KvmMsrs*)p)->Nmsrs = (uint)entries.Length;
            entries.CopyTo(new Span<KvmMsrEntry>(p + sizeof(KvmMsrs), entries.Length));
            return Sys.Ioctl(_fd, KvmIoctls.SetMsrs, p, $"KVM_SET_MSRS({entries.Length} MSRs)");
        }
    }

    /// <summary>KVM_GET_MSRS: the values of the MSRs <paramref name="indices"/> names, in that order.</summary>
    public ulong[] GetMsrs(ReadOnlySpan<uint> indices)
    {
        int bytes = sizeof(KvmMsrs) + indices.Length * sizeof(KvmMsrEntry);
        var buffer = new byte[bytes];
        fixed (byte* p = buffer)
        {
            ((KvmMsrs*)p)->Nmsrs = (uint)indices.Length;
            var entries = new Span<KvmMsrEntry>(p + sizeof(KvmMsrs), indices.Length);
            for (int i = 0; i < indices.Length; i++) entries[i].Index = indices[i];
            int read = Sys.Ioctl(_fd, KvmIoctls.GetMsrs, p, $"KVM_GET_MSRS({indices.Length} MSRs)");
            if (read != indices.Length)
                throw new InvalidOperationException($"KVM_GET_MSRS read {read} of {indices.Length} MSRs: MSR 0x{indices[read]:x} is not readable");
            var values = new ulong[indices.Length];
            for (int i = 0; i < values.Length; i++) values[i] = entries[i].Data;
            return values;
        }
    }

    /// <summary>
    /// KVM_GET_MSRS into <paramref name="entries"/> (indices filled in by the caller): returns how many the kernel
    /// read; it stops at the first MSR it cannot read, so a count below the length names that one.
    /// </summary>
    public int GetMsrEntries(Span<KvmMsrEntry> entries)
    {
        int bytes = sizeof(KvmMsrs) + entries.Length * sizeof(KvmMsrEntry);
        var buffer = new byte[bytes];
        fixed (byte* p = buffer)
        {
            ((KvmMsrs*)p)->Nmsrs = (uint)entries.Length;
            var inBuffer = new Span<KvmMsrEntry>(p + sizeof(KvmMsrs), entries.Length);
            entries.CopyTo(inBuffer);
            int read = Sys.Ioctl(_fd, KvmIoctls.GetMsrs, p, $"KVM_GET_MSRS({entries.Length} MSRs)");
            inBuffer.CopyTo(entries);
            return read;
        }
    }

    /// <summary>KVM_GET_XSAVE: the guest's 4 KiB XSAVE area (x87, SSE, AVX and the other enabled components).</summary>
    public byte[] GetXsave() => GetOpaque(KvmIoctls.GetXsave, KvmStateSizes.Xsave, "KVM_GET_XSAVE");

    /// <summary>KVM_SET_XSAVE.</summary>
    public void SetXsave(ReadOnlySpan<byte> xsave) => SetOpaque(KvmIoctls.SetXsave, xsave, KvmStateSizes.Xsave, "KVM_SET_XSAVE");

    /// <summary>KVM_GET_XCRS: the extended control registers (XCR0).</summary>
    public byte[] GetXcrs() => GetOpaque(KvmIoctls.GetXcrs, KvmStateSizes.Xcrs, "KVM_GET_XCRS");

    /// <summary>KVM_SET_XCRS.</summary>
    public void SetXcrs(ReadOnlySpan<byte> xcrs) => SetOpaque(KvmIoctls.SetXcrs, xcrs, KvmStateSizes.Xcrs, "KVM_SET_XCRS");

    /// <summary>KVM_GET_VCPU_EVENTS: pending exceptions, interrupts, NMIs, SMIs and the interrupt shadow.</summary>
    public byte[] GetVcpuEvents() => GetOpaque(KvmIoctls.GetVcpuEvents, KvmStateSizes.VcpuEvents, "KVM_GET_VCPU_EVENTS");

    /// <summary>KVM_SET_VCPU_EVENTS.</summary>
    public void SetVcpuEvents(ReadOnlySpan<byte> events) => SetOpaque(KvmIoctls.SetVcpuEvents, events, KvmStateSizes.VcpuEvents, "KVM_SET_VCPU_EVENTS");

    /// <summary>KVM_GET_DEBUGREGS: DR0-3, DR6, DR7.</summary>
    public byte[] GetDebugRegs() => GetOpaque(KvmIoctls.GetDebugRegs, KvmStateSizes.DebugRegs, "KVM_GET_DEBUGREGS");

    /// <summary>KVM_SET_DEBUGREGS.</summary>
    public void SetDebugRegs(ReadOnlySpan<byte> debugRegs) => SetOpaque(KvmIoctls.SetDebugRegs, debugRegs, KvmStateSizes.DebugRegs, "KVM_SET_DEBUGREGS");

    private byte[] GetOpaque(ulong request, int size, string name) => OpaqueStateIoctl.Get(_fd, request, size, name);

    private void SetOpaque(ulong request, ReadOnlySpan<byte> data, int size, string name) => OpaqueStateIoctl.Set(_fd, request, data, size, name);

    /// <summary>KVM_GET_FPU.</summary>
    public KvmFpu GetFpu()
    {
        KvmFpu fpu;
        Sys.Ioctl(_fd, KvmIoctls.GetFpu, &fpu, "KVM_GET_FPU");
        return fpu;
    }

    /// <summary>KVM_SET_FPU.</summary>
    public void SetFpu(in KvmFpu fpu)
    {
        var copy = fpu;
        Sys.Ioctl(_fd, KvmIoctls.SetFpu, &copy, "KVM_SET_FPU");
    }

    /// <summary>KVM_GET_LAPIC: the in-kernel local APIC's registers (needs the irqchip).</summary>
    public KvmLapicState GetLapic()
    {
        KvmLapicState lapic;
        Sys.Ioctl(_fd, KvmIoctls.GetLapic, &lapic, "KVM_GET_LAPIC");
        return lapic;
    }

    /// <summary>KVM_SET_LAPIC.</summary>
    public void SetLapic(in KvmLapicState lapic)
    {
        var copy = lapic;
        Sys.Ioctl(_fd, KvmIoctls.SetLapic, &copy, "KVM_SET_LAPIC");
    }

    /// <summary>KVM_GET_MP_STATE: one of the <see cref="KvmMpState"/> constants.</summary>
    public uint GetMpState()
    {
        KvmMpState state;
        Sys.Ioctl(_fd, KvmIoctls.GetMpState, &state, "KVM_GET_MP_STATE");
        return state.State;
    }

    /// <summary>KVM_SET_MP_STATE.</summary>
    public void SetMpState(uint state)
    {
        var arg = new KvmMpState { State = state };
        Sys.Ioctl(_fd, KvmIoctls.SetMpState, &arg, $"KVM_SET_MP_STATE({state})");
    }

    /// <summary>
    /// KVM_SET_SIGNAL_MASK: the signal mask of the calling thread while inside KVM_RUN (api.rst 4.17).
    /// <paramref name="blocked"/> is a kernel sigset: bit (signo - 1) set means blocked.
    /// </summary>
    public void SetSignalMask(ulong blocked)
    {
        var mask = new KvmSignalMask { Len = sizeof(ulong), Sigset = blocked };
        Sys.Ioctl(_fd, KvmIoctls.SetSignalMask, &mask, $"KVM_SET_SIGNAL_MASK(0x{blocked:x})");
    }

    /// <summary>Unmaps kvm_run and closes the vCPU fd.</summary>
    public void Dispose()
    {
        _mapping.Dispose();
        _fd.Dispose();
    }
}
