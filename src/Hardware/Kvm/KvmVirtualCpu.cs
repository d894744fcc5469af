using System.Buffers.Binary;
using Actorvisor.Hardware.Accel;
using Actorvisor.Hardware.Kvm.Abi;
using Actorvisor.Hardware.X86;

namespace Actorvisor.Hardware.Kvm;

/// <summary>
/// <see cref="IVirtualCpu"/> over a <see cref="VcpuFd"/>: the run loop of Firecracker's run_emulation.
/// Port I/O and MMIO go to the exit handler inline, with IN and MMIO-read data written straight into
/// kvm_run for the kernel to complete the instruction on the next KVM_RUN. A kick sets immediate_exit and
/// signals the thread inside KVM_RUN (see <see cref="KvmKickSignal"/>).
/// </summary>
public sealed class KvmVirtualCpu : IVirtualCpu
{
    private readonly VcpuFd _vcpu;
    private readonly VcpuExitCounts _exitCounts = new();
    private int _kickPending;
    private int _runnerTid;
    private ulong _signalMaskSet = ulong.MaxValue;
    // True after a KVM_EXIT_IO/MMIO until the next KVM_RUN: the kernel finishes the instruction (and moves RIP
    // past it) only when it is re-entered (api.rst, "KVM_EXIT_IO ... complete only after userspace has
    // re-entered the kernel with KVM_RUN").
    private bool _completionPending;
    // External interrupts waiting for KVM_INTERRUPT, oldest first (QueueExternalInterrupt).
    private readonly Queue<byte> _interrupts = new();

    // KVM_GET_MSR_INDEX_LIST, and the part of it KVM_GET_MSRS reads on this vCPU (found on the first SaveState).
    private readonly uint[] _msrIndexList;
    private uint[]? _savedMsrs;

    // True when the VM has the in-kernel irqchip (created before any vCPU), so this vCPU has a LAPIC to save.
    private readonly bool _inKernelLapic;

    internal KvmVirtualCpu(VcpuFd vcpu, uint[] msrIndexList, bool inKernelLapic)
    {
        _vcpu = vcpu;
        _msrIndexList = msrIndexList;
        _inKernelLapic = inKernelLapic;
    }

    /// <inheritdoc />
    public int Id => _vcpu.Id;

    /// <inheritdoc />
    public VcpuExitCounts ExitCounts => _exitCounts;

    /// <summary>The KVM vCPU fd wrapper, for vCPU ioctls beyond the accelerator contract.</summary>
    public VcpuFd Fd => _vcpu;

    /// <inheritdoc />
    public VcpuExit Run(IExitHandler handler)
    {
        ArgumentNullException.ThrowIfNull(handler);
        int tid = KvmKickSignal.CurrentThreadId();
        if (Interlocked.CompareExchange(ref _runnerTid, tid, 0) != 0)
            throw new InvalidOperationException($"vCPU {Id} is already running on thread {_runnerTid}");
        try
        {
            ulong runMask = KvmKickSignal.BlockOnCurrentThread();
            if (runMask != _signalMaskSet)
            {
                _vcpu.SetSignalMask(runMask);
                _signalMaskSet = runMask;
            }
            while (true)
            {
                if (Volatile.Read(ref _kickPending) != 0)
                {
                    CompletePendingOperation();
                    return ConsumeKick();
                }
                InjectPendingInterrupt();
                var reason = _vcpu.Run();
                _completionPending = reason is KvmExitReason.Io or KvmExitReason.Mmio;
                var exit = reason switch
                {
                    KvmExitReason.Io => HandleIo(handler),
                    KvmExitReason.Mmio => HandleMmio(handler),
                    KvmExitReason.Hlt => VcpuExit.Halted,
                    KvmExitReason.IrqWindowOpen => null,
                    KvmExitReason.Intr => HandleInterrupt(),
                    KvmExitReason.Shutdown => DescribeShutdown(),
                    KvmExitReason.FailEntry => DescribeFailEntry(),
                    KvmExitReason.InternalError => DescribeInternalError(),
                    KvmExitReason.SystemEvent => DescribeSystemEvent(),
                    var other => new VcpuExit.InternalError($"unhandled KVM exit reason {other} ({(uint)other})"),
                };
                if (exit is not null)
                {
                    CompletePendingOperation();
                    return exit;
                }
            }
        }
        finally
        {
            Volatile.Write(ref _runnerTid, 0);
            // A kick that read our thread id just before we cleared it may still signal us; leave no
            // pending SIGURG behind (a late one only costs the next KVM_RUN a spurious -EINTR).
            KvmKickSignal.DrainPending();
        }
    }

    /// <inheritdoc />
    public void Kick()
    {
        // Order matters: the flag before immediate_exit (HandleInterrupt relies on it to clear a stale immediate_exit).
        Volatile.Write(ref _kickPending, 1);
        // Closes the window between Run's check of _kickPending and entry into the guest.
        _vcpu.RequestImmediateExit();
        int tid = Volatile.Read(ref _runnerTid);
        if (tid != 0) KvmKickSignal.Send(tid);
    }

    /// <inheritdoc />
    public void QueueExternalInterrupt(byte vector)
    {
        lock (_interrupts) _interrupts.Enqueue(vector);
        // Bring a vCPU inside KVM_RUN out (-EINTR, which Run absorbs) so that it injects before re-entering.
        int tid = Volatile.Read(ref _runnerTid);
        if (tid != 0) KvmKickSignal.Send(tid);
    }

    /// <summary>
    /// Before KVM_RUN: injects the oldest queued interrupt if the guest can take one (KVM_INTERRUPT needs
    /// ready_for_interrupt_injection, which KVM sets with IF=1 and no shadow), and asks for an interrupt-window
    /// exit (KVM_EXIT_IRQ_WINDOW_OPEN) while more wait.
    /// </summary>
    private void InjectPendingInterrupt()
    {
        ref var run = ref _vcpu.RunState;
        lock (_interrupts)
        {
            if (_interrupts.Count > 0 && run.ReadyForInterruptInjection != 0 && run.IfFlag != 0)
                _vcpu.Interrupt(_interrupts.Dequeue());
            run.RequestInterruptWindow = _interrupts.Count > 0 ? (byte)1 : (byte)0;
        }
    }

    /// <inheritdoc />
    public Registers GetRegisters() => _vcpu.GetRegs().ToRegisters();

    /// <inheritdoc />
    public void SetRegisters(in Registers registers) => _vcpu.SetRegs(KvmRegs.From(registers));

    /// <inheritdoc />
    public SpecialRegisters GetSpecialRegisters() => _vcpu.GetSregs().ToSpecialRegisters();

    /// <inheritdoc />
    public void SetSpecialRegisters(SpecialRegisters sregs)
    {
        ArgumentNullException.ThrowIfNull(sregs);
        _vcpu.SetSregs(KvmSregs.From(sregs));
    }

    /// <summary>
    /// The whole vCPU state as a <see cref="KvmVcpuState"/> blob. Call it while the vCPU is not running (between
    /// <see cref="Run"/> calls: Run completes any I/O or MMIO instruction before it returns, so RIP is past it).
    /// </summary>
    /// <exception cref="InvalidOperationException">the vCPU is running, or external interrupts are still queued for KVM_INTERRUPT.</exception>
    public byte[] SaveState()
    {
        ThrowIfRunning("save");
        lock (_interrupts)
            if (_interrupts.Count > 0)
                throw new InvalidOperationException($"KVM vCPU {Id}: {_interrupts.Count} external interrupts are still queued for KVM_INTERRUPT; run the vCPU until they are taken before saving");
        _savedMsrs ??= KvmVcpuState.ReadableMsrs(_vcpu, _msrIndexList);
        return KvmVcpuState.Save(_vcpu, _savedMsrs, _inKernelLapic);
    }

    /// <summary>Loads a <see cref="KvmVcpuState"/> blob into this (fresh, not running) vCPU.</summary>
    /// <exception cref="FormatException">the blob is of another version or layout, truncated or corrupted.</exception>
    public void RestoreState(ReadOnlySpan<byte> state)
    {
        ThrowIfRunning("restore");
        KvmVcpuState.Restore(_vcpu, state, _inKernelLapic);
    }

    private void ThrowIfRunning(string action)
    {
        int tid = Volatile.Read(ref _runnerTid);
        if (tid != 0) throw new InvalidOperationException($"KVM vCPU {Id} is running on thread {tid}: stop it before you {action} its state");
    }

    /// <summary>Unmaps kvm_run and closes the vCPU fd.</summary>
    public void Dispose() => _vcpu.Dispose();

    /// <summary>
    /// Before Run returns after an I/O or MMIO exit, re-enters KVM_RUN with immediate_exit set so the kernel
    /// completes the instruction without running further guest code: RIP and registers are then consistent
    /// for the caller (the same state the software accelerator reports), as api.rst recommends.
    /// </summary>
    private void CompletePendingOperation()
    {
        if (!_completionPending) return;
        _completionPending = false;
        _vcpu.RequestImmediateExit();
        var reason = _vcpu.Run();
        if (reason != KvmExitReason.Intr)
            throw new InvalidOperationException($"KVM_RUN with immediate_exit set returned exit reason {reason} instead of -EINTR");
        // A kick may land meanwhile: it leaves _kickPending set, which the next Run checks before entering.
        if (Volatile.Read(ref _kickPending) == 0) _vcpu.ImmediateExit = false;
    }

    private VcpuExit ConsumeKick()
    {
        Interlocked.Exchange(ref _kickPending, 0);
        _vcpu.ImmediateExit = false;
        return VcpuExit.Kicked;
    }

    private VcpuExit? HandleInterrupt()
    {
        if (Volatile.Read(ref _kickPending) != 0) return ConsumeKick();
        // Not a kick waiting: another signal, or the tail of a kick this thread already consumed. Kick sets _kickPending
        // first and immediate_exit second, so the loop can consume the first before the second lands; a stale
        // immediate_exit left set would make every KVM_RUN return -EINTR at once, forever (a vCPU that spins without
        // running its guest until the next kick). Clear it and take off any late SIGURG, then look again: a kick whose
        // flag is still unseen sets immediate_exit after this clear (its flag's store comes first), so it still interrupts.
        _vcpu.ImmediateExit = false;
        Interlocked.MemoryBarrier();
        KvmKickSignal.DrainPending();
        return Volatile.Read(ref _kickPending) != 0 ? ConsumeKick() : null;
    }

    /// <summary>
    /// KVM_EXIT_IO: count accesses of size bytes each (count above 1 for rep ins/outs). Every access goes to
    /// the handler, because the kernel completes the whole string instruction on the next KVM_RUN.
    /// </summary>
    private VcpuExit? HandleIo(IExitHandler handler)
    {
        var io = _vcpu.RunState.Io;
        var direction = io.Direction == KvmRunIo.DirectionIn ? IoDirection.In : IoDirection.Out;
        var data = _vcpu.IoData;
        VcpuExit? stop = null;
        for (int i = 0; i < io.Count; i++)
        {
            var item = data.Slice(i * io.Size, io.Size);
            _exitCounts.PortIo++;
            if (handler.OnPortIo(io.Port, direction, item) == ExitAction.Stop)
                stop ??= new VcpuExit.PortIo(io.Port, io.Size, direction, (uint)LittleEndian(item));
        }
        return stop;
    }

    private VcpuExit? HandleMmio(IExitHandler handler)
    {
        var mmio = _vcpu.RunState.Mmio;
        bool isWrite = mmio.IsWrite != 0;
        var data = _vcpu.MmioData;
        _exitCounts.Mmio++;
        return handler.OnMmio(mmio.PhysAddr, isWrite, data) == ExitAction.Stop
            ? new VcpuExit.Mmio(mmio.PhysAddr, data.Length, isWrite, LittleEndian(data))
            : null;
    }

    private static ulong LittleEndian(ReadOnlySpan<byte> data)
    {
        Span<byte> eight = stackalloc byte[8];
        eight.Clear();
        data.CopyTo(eight);
        return BinaryPrimitives.ReadUInt64LittleEndian(eight);
    }

    // The registers a triple fault left (on Intel KVM keeps them readable after KVM_EXIT_SHUTDOWN): where the guest was
    // and what its IDT and stack were, which is what a guest author needs to find the fault that could not be delivered.
    private VcpuExit DescribeShutdown()
    {
        // The x86 reset state: CS selector 0xf000 with IP 0xfff0 (the reset vector below 4 GiB).
        const ulong resetRip = 0xfff0;
        const ushort resetCsSelector = 0xf000;
        const string what = "KVM_EXIT_SHUTDOWN: the guest shut down (triple fault)";
        try
        {
            var r = _vcpu.GetRegs().ToRegisters();
            var s = _vcpu.GetSregs().ToSpecialRegisters();
            // On AMD (SVM) KVM reinitialises the vCPU at a shutdown intercept, since the VMCB is undefined after one:
            // the registers are then the reset vector's and say nothing of the fault.
            if (r.Rip == resetRip && s.Cs.Selector == resetCsSelector)
                return new VcpuExit.Shutdown($"{what}; KVM reset the vCPU at the shutdown (as it does on AMD), so where it faulted is not known");
            return new VcpuExit.Shutdown($"{what} at rip 0x{r.Rip:x} (cs 0x{s.Cs.Selector:x}), rsp 0x{r.Rsp:x}, rflags 0x{r.Rflags:x}, " +
                $"cr0 0x{s.Cr0:x} cr2 0x{s.Cr2:x} cr3 0x{s.Cr3:x} cr4 0x{s.Cr4:x} efer 0x{s.Efer:x}, idt 0x{s.Idt.Base:x}/0x{s.Idt.Limit:x}");
        }
        catch (Native.SyscallException e)
        {
            return new VcpuExit.Shutdown($"{what}; its registers could not be read: {e.Message}");
        }
    }

    private VcpuExit DescribeFailEntry()
    {
        var f = _vcpu.RunState.FailEntry;
        return new VcpuExit.FailEntry(f.HardwareEntryFailureReason,
            $"KVM_EXIT_FAIL_ENTRY: hardware entry failure reason 0x{f.HardwareEntryFailureReason:x} on host CPU {f.Cpu} (invalid guest state)");
    }

    private unsafe VcpuExit DescribeInternalError()
    {
        var e = _vcpu.RunState.Internal;
        string name = e.Suberror switch
        {
            1 => "KVM_INTERNAL_ERROR_EMULATION (an instruction KVM cannot emulate)",
            2 => "KVM_INTERNAL_ERROR_SIMUL_EX (exception while delivering an exception)",
            3 => "KVM_INTERNAL_ERROR_DELIVERY_EV (event delivery failed)",
            4 => "KVM_INTERNAL_ERROR_UNEXPECTED_EXIT_REASON",
            _ => $"suberror {e.Suberror}",
        };
        int n = (int)Math.Min(e.Ndata, (uint)KvmRunInternal.MaxData);
        var words = new string[n];
        for (int i = 0; i < n; i++) words[i] = $"0x{e.Data[i]:x}";
        return new VcpuExit.InternalError($"KVM_EXIT_INTERNAL_ERROR: {name}" + (n > 0 ? $", data [{string.Join(", ", words)}]" : ""));
    }

    private VcpuExit DescribeSystemEvent()
    {
        var s = _vcpu.RunState.SystemEvent;
        string what = s.Type switch { 1 => "shutdown", 2 => "reset", 3 => "crash", _ => $"type {s.Type}" };
        return s.Type == 2
            ? new VcpuExit.SystemReset("KVM_EXIT_SYSTEM_EVENT: the guest requested reset")
            : new VcpuExit.Shutdown($"KVM_EXIT_SYSTEM_EVENT: the guest requested {what}");
    }
}
