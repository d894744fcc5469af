using Actorvisor.Hardware.Memory;
using System.Runtime.CompilerServices;
using System.Runtime.ExceptionServices;
using System.Runtime.InteropServices;
using Actorvisor.Hardware.Accel;
using Actorvisor.Hardware.Apic;
using Actorvisor.Hardware.AsyncPf;
using Actorvisor.Hardware.Mmu;
using Actorvisor.Hardware.Snapshots;
using Actorvisor.Hardware.X86;
using static Actorvisor.Hardware.Soft.UnicornNative;

namespace Actorvisor.Hardware.Soft;

/// <summary>
/// A vCPU of the software accelerator: one Unicorn engine (<see cref="SoftCpuEngine"/>) driven by the
/// thread that calls <see cref="Run"/>. Port I/O and MMIO are handed to the exit handler from inside
/// uc_emu_start's hooks, so the guest only leaves the emulator when the handler says Stop, on HLT,
/// on an exception it cannot take, on an emulator error, on a kick, or for a memslot change.
/// </summary>
/// <remarks>
/// Emulation only stops at the start of a translation block (see <see cref="SoftExitHooks"/> for why a
/// stop in the middle of a block corrupts guest state on Unicorn 2.0.1). So after a handler returns Stop
/// the guest still executes the rest of its basic block (up to and including the next branch) before
/// Run returns; port I/O and MMIO in that tail still reach the handler in order, and further Stop exits
/// are queued and returned by the following Runs without entering the guest. HLT is exact: it is
/// intercepted before it executes (see <see cref="UnicornCpuContext.InterceptHlt"/>), and when an exit
/// is already pending the vCPU stops on the hlt so that the next Run executes it.
/// Limits of Unicorn 2.0.1 that remain: paging must identity-map what the guest touches (see
/// <see cref="GuestPageWalker"/>); 8-byte MMIO accesses reach the handler as two 4-byte ones;
/// and translated code is only invalidated for writes by this vCPU to slots it maps whole, so code written
/// by the VMM, by another vCPU or into a trapped (e.g. dirty-logged) slot is seen after the next
/// SetSpecialRegisters or memslot change (both give the vCPU a fresh engine).
/// <para>
/// Events: Unicorn hands every exception to UC_HOOK_INTR instead of delivering it; the vCPU stops there (RIP is
/// exact: QEMU restores it before raising) and delivers it itself through the guest's IVT or IDT between two
/// uc_emu_start calls (<see cref="SoftEventDelivery"/>), as it does external interrupts queued with
/// <see cref="QueueExternalInterrupt"/>. RDMSR/WRMSR stop through QEMU's SVM MSR intercept
/// (<see cref="SoftMsrIntercept"/>) and are emulated from the vCPU's <see cref="SoftMsrTable"/>; CPUID's KVM
/// leaves come from a UC_X86_INS_CPUID hook.
/// </para>
/// <para>
/// Memory: the engine maps RAM only as the SPTEs of the VM's <see cref="SoftMmu"/> allow (see
/// <see cref="SoftMemoryMap"/>); accesses they do not allow fault into the MMU from the memory hooks. The vCPU
/// takes part in the MMU's TLB flushes: it is in guest mode from just before uc_emu_start until it returns
/// (exit handlers run in guest mode too: they must not take mmu_lock or wait long, since a flush waits for
/// them); a flush request stops it at the next block start, and it re-applies the SPTEs before re-entering.
/// </para>
/// </remarks>
public sealed unsafe class SoftVcpu : IVirtualCpu
{
    private static readonly int[] GprIds =
    [
        UC_X86_REG_RAX, UC_X86_REG_RBX, UC_X86_REG_RCX, UC_X86_REG_RDX, UC_X86_REG_RSI, UC_X86_REG_RDI,
        UC_X86_REG_RSP, UC_X86_REG_RBP, UC_X86_REG_R8, UC_X86_REG_R9, UC_X86_REG_R10, UC_X86_REG_R11,
        UC_X86_REG_R12, UC_X86_REG_R13, UC_X86_REG_R14, UC_X86_REG_R15, UC_X86_REG_RIP, UC_X86_REG_RFLAGS,
    ];

    private readonly SoftVm _vm;
    private GCHandle _self;

    // Run/kick handshake, all guarded by _gate (see Kick for why this is race-free).
    private readonly object _gate = new();
    private bool _running;
    private long _runningGeneration;
    private bool _kickPending;
    private bool _resyncWanted;
    private volatile bool _disposed;

    /// <summary>What the stop hooks read and write: a stop request (next block start, or next instruction in a precise block), where they stopped, the last block entered.</summary>
    private readonly SoftStopWords _stop = new();
    private int _released;

    // The TLB flush protocol: set from any thread by a flush request (and by hooks) to stop at the next block
    // start and re-enter the guest instead of returning from Run.
    private readonly TlbFlushParticipant _participant;
    private volatile bool _internalStop;

    private int _inRun;
    private int _runThread;
    private SoftCpuEngine? _engine;

    // Register state written by the VMM and not yet loaded into the engine (or the reset state before the first Run).
    private Registers _regs;
    private SpecialRegisters _sregs;
    private bool _regsDirty = true;
    private bool _sregsDirty = true;
    private ulong _cr8;
    private readonly SoftMsrTable _msrs = new();

    // External interrupts queued by QueueExternalInterrupt, oldest first; guarded by _gate.
    private readonly Queue<byte> _externalInterrupts = new();
    // True while an external interrupt waits for its window: the window hooks stop emulation (vCPU thread only).
    private bool _windowWanted;

    // Exit bookkeeping of the current Run; touched only by the run thread (hooks run on it).
    private IExitHandler? _handler;
    private readonly VcpuExitCounts _exitCounts = new();
    private readonly Queue<VcpuExit> _exits = new();
    private int _stopsThisEmulation;
    private bool _advanceOverHlt;
    private bool _exceptionTaken;
    private GuestEvent? _pendingEvent;
    private bool? _pendingMsrWrite;
    private int _blocksThisEmulation;
    // Blocks whose lazy-memory accesses fault precisely (a code hook over each; see TrySendPageNotPresent). Replaced, never
    // changed in place: the engine built from an instance keeps it (run thread only).
    private (ulong First, ulong Last)[] _preciseBlocks = NoPreciseBlocks;
    private static readonly (ulong First, ulong Last)[] NoPreciseBlocks = [];
    private bool _errorRecorded;
    private ExceptionDispatchInfo? _handlerFailure;

    internal SoftVcpu(SoftVm vm, int id)
    {
        _vm = vm;
        Id = id;
        _self = GCHandle.Alloc(this);
        _participant = vm.Mmu.Tlb.Register(new FlushTarget(this));
        Apic = new LocalApic(id, new ApicTarget(this), vm.ApicBus);
        AsyncPf = new AsyncPfProtocol(id, new SoftGuestArea(vm), vector => Apic.RequestInterrupt(vector));
        _regs = new Registers { Rip = 0xFFF0, Rflags = Registers.ResetRflags };
        _sregs = ResetState(id);
        _cr8 = _sregs.Cr8;
        _msrs[SoftMsrTable.ApicBase] = _sregs.ApicBase;
        if (vm.Accelerator.PreciseEverywhere) _preciseBlocks = [(0, ulong.MaxValue)];
    }

    /// <inheritdoc />
    public int Id { get; }

    /// <inheritdoc />
    public VcpuExitCounts ExitCounts => _exitCounts;

    /// <summary>The x86 power-on state KVM gives a new vCPU (Intel SDM vol. 3, 9.1.1): real mode at F000:FFF0.</summary>
    private static SpecialRegisters ResetState(int id)
    {
        var data = Segment.RealMode(0, code: false);
        return new SpecialRegisters
        {
            Cs = Segment.RealMode(0xF000, code: true) with { Base = 0xFFFF_0000 },
            Ds = data, Es = data, Fs = data, Gs = data, Ss = data,
            Ldt = new Segment { Limit = 0xFFFF, Type = 2, Present = true },
            Tr = new Segment { Limit = 0xFFFF, Type = 0xB, Present = true },
            Gdt = new DescriptorTable(0, 0xFFFF),
            Idt = new DescriptorTable(0, 0xFFFF),
            Cr0 = 0x6000_0010,
            ApicBase = 0xFEE0_0000 | (id == 0 ? 0x900UL : 0x800UL),
        };
    }

    /// <summary>
    /// This vCPU's local APIC (on the VM's <see cref="SoftVm.ApicBus"/>): the vectors it delivers are queued with
    /// <see cref="QueueExternalInterrupt"/>. The guest reaches it through the VM's xAPIC page while this vCPU runs.
    /// </summary>
    public LocalApic Apic { get; }

    /// <summary>
    /// This vCPU's side of KVM's async page-fault protocol, fed by the guest's writes of the async-PF MSRs; the
    /// page-ready vector goes through <see cref="Apic"/>. Whoever installs a page the guest was told is missing
    /// reports it with <see cref="AsyncPfProtocol.PageReady"/>.
    /// </summary>
    public AsyncPfProtocol AsyncPf { get; }

    /// <summary>Hands the APIC's delivered vectors to the vCPU's external-interrupt queue (any thread).</summary>
    private sealed class ApicTarget(SoftVcpu vcpu) : IInterruptTarget
    {
        public void RaiseInterrupt(int vector) => vcpu.QueueExternalInterrupt((byte)vector);
    }

    /// <inheritdoc />
    public VcpuExit Run(IExitHandler handler)
    {
        ArgumentNullException.ThrowIfNull(handler);
        if (Interlocked.CompareExchange(ref _inRun, 1, 0) != 0)
            throw new InvalidOperationException($"vCPU {Id}: Run is already executing on another thread");
        // MMIO to the xAPIC page from this thread reaches this vCPU's APIC while Run executes.
        using var apicBinding = _vm.ApicBus.BindCurrentThread(Apic);
        try
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_exits.TryDequeue(out var queued)) return queued;
            _runThread = Environment.CurrentManagedThreadId;
            _handler = handler;
            while (true)
            {
                var engine = SyncEngine();
                // Maps slots whole where faults asked for it: takes mmu_lock, so outside guest mode; EnterGuest
                // below applies any flush that raced with it.
                engine.Map.ApplyUpgrades();
                if (DeliverExternalInterrupt(engine) is { } refused) return refused;
                WatchInterruptWindow(engine);
                lock (_gate)
                {
                    ObjectDisposedException.ThrowIf(_disposed, this);
                    if (_kickPending)
                    {
                        _kickPending = false;
                        return VcpuExit.Kicked;
                    }
                    if (_vm.Memslots.Generation != engine.Generation) continue;
                    // An interrupt queued since DeliverExternalInterrupt / WatchInterruptWindow looked found the vCPU not
                    // running, so it requested no stop: take it (or watch for its window) before entering, or it would
                    // wait until something else stops the vCPU (a LAPIC vector in service blocks its own class, so
                    // that may be never: seen as a timer tick lost for good by the async-PF scheduler guest).
                    if (_externalInterrupts.Count > 0 && !_windowWanted) continue;
                    // Likewise a slot whose SPTEs were installed off this thread since ApplyUpgrades looked (WakeToMapWhole
                    // found the vCPU not running): map it whole first.
                    if (engine.Map.InstallFinished) continue;
                    // Cleared before entering guest mode: a flush requested from now on finds the vCPU in guest
                    // mode or sees it apply the flush at entry, and its stop request is not lost.
                    // The interrupt window is the managed block hook's (every engine has it), not the code hooks'.
                    _stop.Reset(SoftStopWords.WindowOff);
                    _internalStop = false;
                    _blocksThisEmulation = 0;
                    _running = true;
                    _runningGeneration = engine.Generation;
                    _resyncWanted = false;
                }
                int error = UC_ERR_OK;
                bool started = false, entered = false;
                try
                {
                    _participant.EnterGuest();
                    entered = true;
                    // The MMU's memslots changed since the engine was built: rebuild before running guest code.
                    if (_vm.Memslots.Generation == engine.Generation)
                    {
                        started = true;
                        error = engine.Uc.Start(engine.Uc.ReadRegister(UC_X86_REG_RIP));
                        // With code hooks Unicorn does not rewind RIP when a stop hook left a block at its start check.
                        if (engine.PreciseBlocks.Count > 0 && _stop.StopAddress is var stoppedAt and not 0)
                            engine.Uc.WriteRegister(UC_X86_REG_RIP, stoppedAt);
                    }
                }
                finally
                {
                    if (entered) _participant.ExitGuest();
                    lock (_gate)
                    {
                        _running = false;
                        Monitor.PulseAll(_gate);
                    }
                    engine.HasRun |= started;
                }
                if (!started) continue;
                var exit = Conclude(engine, error);
                if (exit is not null) return exit;
            }
        }
        finally
        {
            _handler = null;
            _runThread = 0;
            Interlocked.Exchange(ref _inRun, 0);
            if (_disposed) Release();
        }
    }

    /// <summary>
    /// Brings the engine up to the VM's memslot generation (building a new one and moving the CPU state
    /// over) and loads register state the VMM wrote since the last Run.
    /// </summary>
    private SoftCpuEngine SyncEngine()
    {
        var slots = _vm.Memslots;
        var engine = _engine;
        // A new engine also for special registers loaded after the engine ran (a reset, a new image): QEMU
        // drops translated code only for writes by this engine's CPU, not for code the VMM or another vCPU
        // wrote, and Unicorn 2.0.1's own flush (uc_ctl_flush_tb) costs seconds. A new engine also starts
        // with an empty TLB, so changed CR0/CR3/CR4/EFER take effect.
        // A code hook must be in place before QEMU translates the code it covers: (un)installing it where code has
        // been translated needs a new engine.
        // Whether lazy slots stay trapped, and the code hooks of the precise blocks, are chosen when the engine is built:
        // see SoftExitHooks.Install.
        bool asyncPf = AsyncPf.IsEnabled;
        var preciseBlocks = asyncPf ? _preciseBlocks : NoPreciseBlocks;
        // A block learnt since (LearnPreciseBlock) gets its code hook in this engine, its translation dropped: no rebuild.
        if (engine is not null && engine.Generation == slots.Generation && !(_sregsDirty && engine.HasRun) && asyncPf == engine.AsyncPf
            && engine.CanExtendPreciseBlocks(preciseBlocks))
            engine.AddPreciseBlocks(preciseBlocks, _stop.Address);
        if (engine is null || engine.Generation != slots.Generation || (_sregsDirty && engine.HasRun) || asyncPf != engine.AsyncPf
            || !ReferenceEquals(engine.PreciseBlocks, preciseBlocks))
        {
            var fresh = SoftCpuEngine.Create(slots, _vm.Mmu, GCHandle.ToIntPtr(_self), _stop.Address, asyncPf, preciseBlocks, WakeToMapWhole);
            if (engine is not null) engine.CopyStateTo(fresh);
            lock (_gate) _engine = fresh;
            engine?.Dispose();
            engine = fresh;
        }
        if (_regsDirty || _sregsDirty) LoadState(engine);
        return engine;
    }

    /// <summary>KVM_SET_REGS / KVM_SET_SREGS into the engine: registers through the API, the rest through the context.</summary>
    private void LoadState(SoftCpuEngine engine)
    {
        if (_regsDirty)
        {
            var r = _regs;
            Span<ulong> values = [r.Rax, r.Rbx, r.Rcx, r.Rdx, r.Rsi, r.Rdi, r.Rsp, r.Rbp, r.R8, r.R9, r.R10, r.R11, r.R12, r.R13, r.R14, r.R15, r.Rip, r.Rflags];
            engine.Uc.WriteRegisters(GprIds, values);
        }
        byte* blob = engine.SaveState();
        if (_sregsDirty) UnicornCpuContext.WriteSpecialRegisters(blob, _sregs);
        UnicornCpuContext.PrepareForRun(blob, engine.BlobSize);
        engine.RestoreState();
        _regsDirty = _sregsDirty = false;
    }

    /// <summary>Turns how uc_emu_start ended into the exit Run returns; null to re-enter (memslot resync).</summary>
    private VcpuExit? Conclude(SoftCpuEngine engine, int error)
    {
        _stopsThisEmulation = 0;
        if (_stop.Window == SoftStopWords.WindowFired) _internalStop = true;
        if (_handlerFailure is { } failure)
        {
            _handlerFailure = null;
            _exits.Clear();
            _advanceOverHlt = _exceptionTaken = _errorRecorded = false;
            _pendingEvent = null;
            _pendingMsrWrite = null;
            failure.Throw();
        }
        if (_advanceOverHlt)
        {
            _advanceOverHlt = false;
            ulong rip = engine.Uc.ReadRegister(UC_X86_REG_RIP);
            engine.Uc.WriteRegister(UC_X86_REG_RIP, rip + (ulong)InstructionLength(engine, rip, 0xF4, 1));
        }
        if (error != UC_ERR_OK && !_errorRecorded)
        {
            // QEMU raised #UD (its translator found no valid instruction); Unicorn stops instead of delivering it.
            if (error == UC_ERR_INSN_INVALID)
            {
                _exceptionTaken = true;
                _pendingEvent = new GuestEvent(GuestEvent.InvalidOpcode, GuestEventKind.Exception);
            }
            else _exits.Enqueue(ErrorExit(engine, error));
        }
        _errorRecorded = false;
        if (_exceptionTaken)
        {
            _exceptionTaken = false;
            UnicornCpuContext.ClearExceptionInFlight(engine.SaveState(), engine.BlobSize);
            engine.RestoreState();
        }
        bool reenter = false;
        if (_pendingMsrWrite is { } msrWrite)
        {
            _pendingMsrWrite = null;
            EmulateMsrAccess(engine, msrWrite);
            reenter = true;
        }
        if (_pendingEvent is { } ev)
        {
            _pendingEvent = null;
            if (DeliverEvent(engine, ev) is { } fatal) _exits.Enqueue(fatal);
            reenter = true;
        }
        if (_exits.TryDequeue(out var exit)) return exit;
        lock (_gate)
        {
            // A vCPU disposed while running leaves like a kicked one; its next Run throws.
            if (_kickPending || _disposed)
            {
                _kickPending = false;
                return VcpuExit.Kicked;
            }
            if (reenter || _resyncWanted || _internalStop || _vm.Memslots.Generation != engine.Generation) return null;
        }
        // Only a HLT that was not intercepted ends emulation this way.
        return VcpuExit.Halted;
    }

    /// <summary>
    /// Makes the current or next Run return <see cref="VcpuExit.Kicked"/>. Race-free because the pending
    /// flag and the stop request are set under the same lock as Run's entry check (which also clears any
    /// old stop request before marking the vCPU running): either Run sees the kick before entering
    /// uc_emu_start and returns at once, or Kick sees the vCPU running and raises the stop request,
    /// which the block hook acts on at the next block start. The request is a plain int that only the
    /// run thread clears, so unlike uc_emu_stop (which uc_emu_start resets while starting up, and which
    /// Unicorn honours in the middle of a block) it can neither be lost nor land mid-block; and it cannot
    /// reach a later Run, because every Run clears it under the lock before entering the guest.
    /// </summary>
    public void Kick()
    {
        lock (_gate)
        {
            if (_disposed) return;
            _kickPending = true;
            if (_running) RequestStop();
        }
    }

    /// <summary>
    /// Called by the VM after it published memslot generation <paramref name="generation"/>: a vCPU still
    /// running on an older engine is stopped, and this waits until it has left that engine (the SRCU grace
    /// period: afterwards no vCPU touches a deleted slot's memory). From the vCPU's own exit handler it
    /// cannot wait; the vCPU then switches at the end of the current block.
    /// </summary>
    internal void SynchronizeMemslots(long generation)
    {
        // A vCPU that waits for mmu_lock (a slow-path fault) would never leave its engine while this waits.
        MmuLock.AssertNotHeld($"wait for vcpu {Id} to leave its old engine");
        lock (_gate)
        {
            if (_disposed || !_running || _runningGeneration >= generation) return;
            _resyncWanted = true;
            RequestStop();
            if (Environment.CurrentManagedThreadId == Volatile.Read(ref _runThread)) return;
            while (_running && _runningGeneration < generation && !_disposed) Monitor.Wait(_gate);
        }
    }

    /// <summary>
    /// A large slot's SPTEs were installed off this thread (<see cref="SoftMemoryMap"/>): a running vCPU stops at its next
    /// block start and maps it whole before re-entering; one not running sees it before it enters (any thread).
    /// </summary>
    private void WakeToMapWhole()
    {
        lock (_gate)
        {
            if (_running) RequestInternalStop();
        }
    }

    /// <summary>Asks the block hook to stop emulation at the next block start (any thread).</summary>
    private void RequestStop() => _stop.RequestStop();

    /// <summary>
    /// Stops emulation at the next block start and re-enters the guest without returning from Run (any thread):
    /// for a TLB flush, a mapping upgrade or a resync.
    /// </summary>
    private void RequestInternalStop()
    {
        _internalStop = true;
        RequestStop();
    }

    /// <summary>This vCPU as the MMU's TLB flush protocol sees it.</summary>
    private sealed class FlushTarget(SoftVcpu vcpu) : ITlbFlushTarget
    {
        public int VcpuId => vcpu.Id;

        /// <summary>Stops at the next block start; the run loop re-enters, applying the flush first.</summary>
        public void Kick() => vcpu.RequestInternalStop();

        /// <summary>The vCPU thread, outside guest mode (run loop) or in a hook after a slow-path fault.</summary>
        public void FlushTlb() => vcpu._engine?.Map.Flush();
    }

    /// <inheritdoc />
    public Registers GetRegisters()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var engine = _engine;
        if (_regsDirty || engine is null) return _regs;
        Span<ulong> v = stackalloc ulong[GprIds.Length];
        engine.Uc.ReadRegisters(GprIds, v);
        return new Registers
        {
            Rax = v[0], Rbx = v[1], Rcx = v[2], Rdx = v[3], Rsi = v[4], Rdi = v[5], Rsp = v[6], Rbp = v[7],
            R8 = v[8], R9 = v[9], R10 = v[10], R11 = v[11], R12 = v[12], R13 = v[13], R14 = v[14], R15 = v[15],
            Rip = v[16], Rflags = v[17],
        };
    }

    /// <inheritdoc />
    public void SetRegisters(in Registers registers)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        _regs = registers;
        _regsDirty = true;
    }

    /// <inheritdoc />
    public SpecialRegisters GetSpecialRegisters()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var engine = _engine;
        if (_sregsDirty || engine is null) return _sregs;
        return UnicornCpuContext.ReadSpecialRegisters(engine.SaveState(), _cr8, _msrs[SoftMsrTable.ApicBase]);
    }

    /// <inheritdoc />
    public void SetSpecialRegisters(SpecialRegisters sregs)
    {
        ArgumentNullException.ThrowIfNull(sregs);
        ObjectDisposedException.ThrowIf(_disposed, this);
        _sregs = sregs;
        _cr8 = sregs.Cr8;
        _msrs[SoftMsrTable.ApicBase] = sregs.ApicBase;
        _sregsDirty = true;
    }

    // ---- snapshot state ----

    /// <summary>The tag of a software vCPU's state blob.</summary>
    internal const string StateTag = "SVCP";

    /// <summary>The format version of a software vCPU's state blob.</summary>
    internal const uint StateVersion = 1;

    /// <summary>
    /// The vCPU's state: Unicorn's whole CPU context (QEMU's CPUX86State: general, segment, descriptor-table, control
    /// and debug registers, EFER and the MSRs QEMU keeps, x87/MMX/SSE, hflags with the interrupt shadow), CR8, the
    /// runtime's MSR table, the external interrupts queued for delivery, the local APIC and the async-PF MSRs.
    /// </summary>
    /// <exception cref="InvalidOperationException">the vCPU is in Run, exits from its last run are still queued, or async page faults are in flight.</exception>
    public byte[] SaveState()
    {
        EnterStateAccess("save");
        try
        {
            if (_exits.Count > 0)
                throw new InvalidOperationException($"vCPU {Id}: {_exits.Count} exit(s) from its last run are still to be returned; run it to its next exit before saving its state");
            var engine = SyncEngine();
            byte* blob = engine.SaveState();
            var cpu = new ReadOnlySpan<byte>(blob, engine.BlobSize).ToArray();
            cpu.AsSpan(engine.BlobSize - UnicornCpuContext.WatchpointsFromEnd, UnicornCpuContext.WatchpointsBytes).Clear();
            var w = new StateBlobWriter(StateTag, StateVersion);
            w.U32((uint)Id);
            w.Bytes(cpu);
            w.U64(_cr8);
            _msrs.SaveState(w);
            byte[] queued;
            lock (_gate) queued = [.. _externalInterrupts];
            w.Bytes(queued);
            Apic.SaveState(w);
            AsyncPf.SaveState(w);
            return w.ToArray();
        }
        finally
        {
            LeaveStateAccess();
        }
    }

    /// <summary>
    /// Loads a state <see cref="SaveState"/> produced (on this or another VM of the same Unicorn build) into a fresh
    /// engine; the next Run continues where the saved vCPU stopped.
    /// </summary>
    /// <exception cref="FormatException">not a software vCPU state of this version, another vCPU's, or a CPU context of another size (another Unicorn build).</exception>
    public void RestoreState(ReadOnlySpan<byte> state)
    {
        EnterStateAccess("restore");
        try
        {
            var r = new StateBlobReader(state, StateTag, StateVersion, $"software vCPU {Id} state");
            uint id = r.U32();
            if (id != Id) throw new FormatException($"software vCPU {Id} state: the state is vCPU {id}'s");
            var cpu = r.Bytes();
            ulong cr8 = r.U64();
            // A context loaded into an engine that ran would meet translated code of the old memory: start afresh.
            if (_engine is { HasRun: true }) _sregsDirty = true;
            var engine = SyncEngine();
            if (cpu.Length != engine.BlobSize)
                throw new FormatException($"software vCPU {Id} state: a CPU context of {cpu.Length} bytes, this Unicorn's is {engine.BlobSize} (saved by another Unicorn build)");
            _msrs.RestoreState(ref r);
            var queued = r.Bytes();
            lock (_gate)
            {
                _externalInterrupts.Clear();
                foreach (byte v in queued) _externalInterrupts.Enqueue(v);
            }
            Apic.RestoreState(ref r);
            AsyncPf.RestoreState(ref r);
            r.End();
            byte* blob = engine.Blob;
            cpu.CopyTo(new Span<byte>(blob, engine.BlobSize));
            UnicornCpuContext.PrepareForRun(blob, engine.BlobSize);
            engine.RestoreState();
            _cr8 = cr8;
            _regsDirty = _sregsDirty = false;
            _exits.Clear();
        }
        finally
        {
            LeaveStateAccess();
        }
    }

    private void EnterStateAccess(string what)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (Interlocked.CompareExchange(ref _inRun, 1, 0) != 0)
            throw new InvalidOperationException($"vCPU {Id}: cannot {what} its state while it runs");
    }

    private void LeaveStateAccess()
    {
        Interlocked.Exchange(ref _inRun, 0);
        if (_disposed) Release();
    }

    // ---- exit hooks (run thread, inside uc_emu_start) ----

    /// <summary>Queues an exit and stops at the next block start (the rest of this block still runs).</summary>
    private void Record(VcpuExit exit)
    {
        _exits.Enqueue(exit);
        _stopsThisEmulation++;
        RequestStop();
    }

    /// <summary>Keeps a handler's exception for Run to rethrow; later hooks of this block skip the handler.</summary>
    private void Fail(Exception exception)
    {
        _handlerFailure ??= ExceptionDispatchInfo.Capture(exception);
        RequestStop();
    }

    internal void PortOut(uint port, int size, uint value)
    {
        if (_handlerFailure is not null) return;
        uint data = value;
        try
        {
            _exitCounts.PortIo++;
            if (_handler!.OnPortIo((ushort)port, IoDirection.Out, new Span<byte>(&data, size)) == ExitAction.Stop)
                Record(new VcpuExit.PortIo((ushort)port, size, IoDirection.Out, value));
        }
        catch (Exception ex)
        {
            Fail(ex);
        }
    }

    internal uint PortIn(uint port, int size)
    {
        uint data = 0;
        if (_handlerFailure is not null) return 0;
        try
        {
            _exitCounts.PortIo++;
            if (_handler!.OnPortIo((ushort)port, IoDirection.In, new Span<byte>(&data, size)) == ExitAction.Stop)
                Record(new VcpuExit.PortIo((ushort)port, size, IoDirection.In, data));
        }
        catch (Exception ex)
        {
            Fail(ex);
        }
        return data;
    }

    internal ulong MmioRead(ulong gpa, int size)
    {
        // QEMU's MSR-intercept check reading the VMCB and permission map the vCPU points it at.
        if (SoftMsrIntercept.Contains(gpa)) return SoftMsrIntercept.Read(gpa, size);
        ulong data = 0;
        if (_handlerFailure is not null) return 0;
        try
        {
            _exitCounts.Mmio++;
            if (_handler!.OnMmio(gpa, false, new Span<byte>(&data, Math.Min(size, 8))) == ExitAction.Stop)
                Record(new VcpuExit.Mmio(gpa, size, false, data));
        }
        catch (Exception ex)
        {
            Fail(ex);
        }
        return data;
    }

    internal void MmioWrite(ulong gpa, int size, ulong value)
    {
        if (_handlerFailure is not null) return;
        ulong data = value;
        try
        {
            _exitCounts.Mmio++;
            if (_handler!.OnMmio(gpa, true, new Span<byte>(&data, Math.Min(size, 8))) == ExitAction.Stop)
                Record(new VcpuExit.Mmio(gpa, size, true, value));
        }
        catch (Exception ex)
        {
            Fail(ex);
        }
    }

    // ---- SPTE faults (run thread, inside uc_emu_start, in guest mode) ----
    // Unicorn 2.0.1 maps linear to guest-physical addresses one to one (see GuestPageWalker), so the address a
    // memory hook gets is the guest-physical one. Its permission checks run at the top of QEMU's load and store
    // helpers, before the TLB lookup: a hook may leave and re-enter guest mode (and apply a TLB flush there),
    // and what it returns decides whether the access goes on. A stop requested from here takes effect at the
    // next block start only (see SoftExitHooks).

    /// <summary>What <see cref="ResolveFault"/> came to.</summary>
    private enum FaultResolution
    {
        /// <summary>The SPTE allows the access now (checked in guest mode): go on.</summary>
        Mapped,
        /// <summary>The engine maps a memslot generation the MMU no longer has (a change is in flight and this vCPU has been asked to stop): the access goes to the engine's old mapping, like a stale TLB entry.</summary>
        Stale,
        /// <summary>No RAM for this access: a write to a read-only slot.</summary>
        Mmio,
        /// <summary>The host or the MMU forbids the write.</summary>
        NotPermitted,
    }

    /// <summary>
    /// Makes the SPTE of <paramref name="gpa"/> allow <paramref name="access"/>: the page walk, then the lockless
    /// fast path, both in guest mode; then the slow path, which takes mmu_lock and so leaves guest mode around it
    /// (a flush must never wait for a vCPU that waits for the lock) and re-enters it, applying any flush
    /// requested meanwhile, before walking again. On <see cref="FaultResolution.Mapped"/>, <paramref name="spte"/>
    /// allowed the access in guest mode, so a flush that takes it away waits until this vCPU leaves the guest.
    /// </summary>
    private FaultResolution ResolveFault(SoftMemoryMap.SlotMapping s, ulong gpa, MmuAccess access, out Spte spte, out FaultResult slow)
    {
        slow = default;
        spte = default;
        var table = s.Table;
        if (table is null)
        {
            RequestInternalStop();
            return FaultResolution.Stale;
        }
        // KVM too reports a write to a read-only memslot as MMIO, whatever its SPTE.
        if (access == MmuAccess.Write && s.Slot.IsReadOnly) return FaultResolution.Mmio;
        ulong index = (gpa >> Native.PageSize.Shift) - table.BaseGfn;
        while (true)
        {
            if (table.IsRetired)
            {
                RequestInternalStop();
                return FaultResolution.Stale;
            }
            spte = table.Read(index);
            if (spte.Permits(access)) return FaultResolution.Mapped;
            if (_vm.Mmu.FastFault(table, index, access, out _) != FastPageFault.Result.FallBack) continue;
            _participant.ExitGuest();
            try
            {
                slow = _vm.Mmu.Fault(gpa, access);
                SlowFaultResolvedForTest?.Invoke(gpa);
            }
            finally
            {
                _participant.EnterGuest();
            }
            if (slow.Outcome == FaultOutcome.NotPermitted) return FaultResolution.NotPermitted;
            if (slow.Outcome == FaultOutcome.Mmio)
            {
                // The MMU no longer maps this engine's slot (a memslot change is being published).
                RequestInternalStop();
                return FaultResolution.Stale;
            }
        }
    }

    /// <summary>Test seam: runs on the vCPU thread after a slow-path fault, outside guest mode, before re-entering it.</summary>
    internal Action<ulong>? SlowFaultResolvedForTest { get; set; }

    /// <summary>How the current engine maps the RAM slots (null before the first Run).</summary>
    internal SoftMemoryMap? MemoryMap => _engine?.Map;

    /// <summary>
    /// After a fault in a slot that may be mapped whole: ask for that at the next block start. Not a lazy slot
    /// while the guest uses async page faults: its missing pages must keep reaching the fault hooks.
    /// </summary>
    private void MaybeMapWhole(SoftMemoryMap map, SoftMemoryMap.SlotMapping s)
    {
        if (s.Slot.Population is not null && _engine?.AsyncPf == true) return;
        if (map.WantUpgrade(s)) RequestInternalStop();
    }

    /// <summary>
    /// Fetches a page the guest was told is not present (called on the vCPU thread, must not block): fetch and
    /// install guest-physical <c>gpa</c>'s page, then report <c>token</c> with <see cref="AsyncPfProtocol.PageReady"/>
    /// on <see cref="AsyncPf"/>. Without one, every fault on a missing lazy page blocks the vCPU as before.
    /// </summary>
    public Action<ulong, uint>? AsyncPageFetcher { get; set; }

    /// <summary>Most blocks given a precise-fault code hook per vCPU (each new one is a code hook more in the engine, and one synchronous fault).</summary>
    public const int MaxPreciseBlocks = 64;

    /// <summary>
    /// A guest access to a missing lazy page that the guest can take as "page not present" (protocol enabled, the
    /// access in a block with a precise-fault code hook, <see cref="AsyncPfProtocol.TryBeginNotPresent"/> agrees): the
    /// access is refused (RIP stays on the instruction), #PF(0) with CR2 = token is delivered when emulation stops, and
    /// the page goes to <see cref="AsyncPageFetcher"/>. False: resolve the fault as before (blocking).
    /// </summary>
    /// <remarks>
    /// A refused access leaves RIP on its instruction only inside a code hook's range; elsewhere RIP is the block's
    /// start with the block's earlier instructions done (Soft/README). So the first such fault in a block blocks, and
    /// the block (its start and size from the block hook) gets a code hook: the running engine adds it at the next
    /// stop and translates the block again (SoftCpuEngine.AddPreciseBlocks), and from then on that block's faults are guest-visible. Code that never touches lazy memory runs with no
    /// code hook at all (a code hook over all code made it ~15x slower).
    /// </remarks>
    private bool TrySendPageNotPresent(SoftCpuEngine engine, SoftMemoryMap.SlotMapping s, ulong gpa)
    {
        if (!engine.AsyncPf || AsyncPageFetcher is not { } fetch || s.Slot.IsPopulated(gpa)) return false;
        if (!engine.IsPrecise(_stop.LastBlockStart, _stop.LastBlockSize))
        {
            LearnPreciseBlock(_stop.LastBlockStart, _stop.LastBlockSize);
            return false;
        }
        var uc = engine.Uc;
        bool interrupts = (uc.ReadRegister(UC_X86_REG_RFLAGS) & (1UL << 9)) != 0;
        bool kernel = (uc.ReadRegister(UC_X86_REG_CS) & 3) == 0;
        if (!AsyncPf.TryBeginNotPresent(gpa >> Native.PageSize.Shift, interrupts, kernel, out uint token)) return false;
        _errorRecorded = true;
        _pendingEvent = new GuestEvent(GuestEvent.PageFault, GuestEventKind.Exception, 0, token);
        fetch(gpa & ~(Native.PageSize.Bytes - 1), token);
        return true;
    }

    private void LearnPreciseBlock(ulong start, uint size)
    {
        if (size == 0 || _preciseBlocks.Length >= MaxPreciseBlocks) return;
        ulong last = start + size - 1;
        foreach (var (first, end) in _preciseBlocks)
            if (start >= first && last <= end) return; // learnt already; the engine with its hook comes at the next stop
        _preciseBlocks = [.. _preciseBlocks, (start, last)];
        RequestInternalStop();
    }

    /// <summary>
    /// UC_HOOK_MEM_READ_PROT: QEMU fills a TLB entry for a read of a trapped page. Faults the SPTE in; returning
    /// true lets the read go on from the slot's memory, and QEMU's TLB keeps the page readable until the next
    /// TLB flush this vCPU applies.
    /// </summary>
    internal bool ReadProtected(ulong gpa)
    {
        try
        {
            var map = _engine!.Map;
            if (map.Find(gpa) is not { } s) return true;
            if (TrySendPageNotPresent(_engine!, s, gpa)) return false;
            if (ResolveFault(s, gpa, MmuAccess.Read, out _, out _) == FaultResolution.Mapped) MaybeMapWhole(map, s);
            return true;
        }
        catch (Exception ex)
        {
            Fail(ex);
            return true;
        }
    }

    /// <summary>
    /// UC_HOOK_MEM_WRITE_PROT: a guest write to a trapped page (every write to a trapped slot comes here; QEMU
    /// then drops its own store, since the region is read-only in its TLB). Once the SPTE allows the write, the
    /// hook performs the store itself, in guest mode. An unaligned store is left to the byte stores QEMU makes
    /// of it next (each comes back here), so no byte is written twice. A write to a read-only slot is MMIO.
    /// </summary>
    internal bool WriteProtected(ulong gpa, int size, ulong value)
    {
        try
        {
            var map = _engine!.Map;
            if (map.Find(gpa) is not { } s)
            {
                MmioWrite(gpa, size, value);
                return true;
            }
            if (!s.Slot.IsReadOnly && TrySendPageNotPresent(_engine!, s, gpa)) return false;
            switch (ResolveFault(s, gpa, MmuAccess.Write, out var spte, out var slow))
            {
                case FaultResolution.Mapped:
                    Store(spte.HostAddress + (nint)(gpa & (Native.PageSize.Bytes - 1)), gpa, size, value);
                    MaybeMapWhole(map, s);
                    break;
                case FaultResolution.Stale:
                {
                    // No SPTE vouches for this page: if lazy, it may still be missing. Fault it in from native code
                    // first (see GuestMemoryAccess). A Mapped SPTE's page was faulted in by the slow path that installed it.
                    nint host = s.Slot.HostAddressOf(gpa);
                    GuestMemoryAccess.Prefault(host);
                    Store(host, gpa, size, value);
                    break;
                }
                case FaultResolution.Mmio:
                    MmioWrite(gpa, size, value);
                    break;
                case FaultResolution.NotPermitted:
                    _errorRecorded = true;
                    Record(new VcpuExit.InternalError(
                        $"guest write of {size} bytes to guest-physical 0x{gpa:x} refused: the page is write-protected ({slow.DeniedBy})"));
                    break;
            }
            return true;
        }
        catch (Exception ex)
        {
            Fail(ex);
            return true;
        }
    }

    /// <summary>The guest's store of <paramref name="size"/> bytes of <paramref name="value"/>, unless it is unaligned (QEMU then stores it byte by byte).</summary>
    private static void Store(nint host, ulong gpa, int size, ulong value)
    {
        if ((gpa & (ulong)(size - 1)) != 0) return;
        switch (size)
        {
            case 1: *(byte*)host = (byte)value; break;
            case 2: *(ushort*)host = (ushort)value; break;
            case 4: *(uint*)host = (uint)value; break;
            default: *(ulong*)host = value; break;
        }
    }

    /// <summary>
    /// UC_HOOK_MEM_FETCH_PROT: QEMU translates code from a trapped RAM page (an SPTE fault, see above), or the
    /// guest fetches code from an address with no RAM. If the page tables do
    /// not map it, returning true lets QEMU raise the #PF; otherwise the run ends with an internal error,
    /// as on KVM, which cannot execute from MMIO either. A page-table mapping to another address is
    /// reported as such, since Unicorn 2.0.1 would fetch from the linear address regardless.
    /// </summary>
    internal bool FetchProtected(ulong linear)
    {
        try
        {
            var engine = _engine!;
            // A trapped RAM page: QEMU translates code from it, a byte at a time; fault the SPTE in and go on.
            // Only translation is checked: Unicorn 2.0.1 runs cached blocks without fetching again.
            if (engine.Map.Find(linear) is { } s)
            {
                if (ResolveFault(s, linear, MmuAccess.Execute, out _, out _) == FaultResolution.Mapped) MaybeMapWhole(engine.Map, s);
                return true;
            }
            if (!GuestPageWalker.TryTranslate(engine.Memslots, Paging(engine), linear, out ulong gpa)) return true;
            _errorRecorded = true;
            Record(new VcpuExit.InternalError(gpa == linear
                ? $"instruction fetch from guest-physical 0x{gpa:x}, which is MMIO or unmapped, not RAM"
                : $"instruction fetch from linear 0x{linear:x}, which the guest's page tables map to guest-physical 0x{gpa:x}: " +
                  "the software accelerator (Unicorn 2.0.1) only supports identity-mapped paging"));
            return false;
        }
        catch (Exception ex)
        {
            Fail(ex);
            return false;
        }
    }

    /// <summary>UC_HOOK_INTR: the HLT intercept, a CPU exception or a software interrupt.</summary>
    internal void Interrupt(nint uc, uint number)
    {
        try
        {
            // Exceptions and intercepts reach this hook between blocks (QEMU's cpu_handle_exception), where
            // uc_emu_stop takes effect before any further guest instruction.
            uc_emu_stop(uc);
            if (number == UnicornCpuContext.HltInterceptVector)
            {
                // With an exit already pending from earlier in this block, stay on the hlt: the next Run executes it.
                if (_stopsThisEmulation == 0)
                {
                    _advanceOverHlt = true;
                    Record(VcpuExit.Halted);
                }
                return;
            }
            var engine = _engine!;
            _exceptionTaken = true;
            byte* blob = engine.SaveState();
            bool software = UnicornCpuContext.U32(blob, engine.BlobSize - UnicornCpuContext.ExceptionIsIntFromEnd) != 0;
            uint errorCode = UnicornCpuContext.ErrorCode(blob, engine.BlobSize);
            if (number == SoftMsrIntercept.Vector)
                _pendingMsrWrite = errorCode != 0;
            else if (number >= 256)
                Record(new VcpuExit.InternalError($"unexpected Unicorn interrupt 0x{number:x} at RIP 0x{engine.Uc.ReadRegister(UC_X86_REG_RIP):x}"));
            else
                _pendingEvent = new GuestEvent(number, software ? GuestEventKind.Software : GuestEventKind.Exception, errorCode);
        }
        catch (Exception ex)
        {
            Fail(ex);
        }
    }

    /// <summary>
    /// UC_X86_INS_CPUID hook (inside uc_emu_start): answers KVM's paravirtual leaves (<see cref="KvmParavirtCpuid"/>)
    /// and leaves every other leaf to Unicorn's CPU model. Returns 1 to skip the model's CPUID.
    /// </summary>
    internal int Cpuid(nint uc)
    {
        ulong rax = 0;
        Check(uc_reg_read(uc, UC_X86_REG_RAX, &rax), "uc_reg_read", "RAX");
        if (!KvmParavirtCpuid.TryGet((uint)rax, out uint eax, out uint ebx, out uint ecx, out uint edx)) return 0;
        ReadOnlySpan<int> ids = [UC_X86_REG_RAX, UC_X86_REG_RBX, UC_X86_REG_RCX, UC_X86_REG_RDX];
        _engine!.Uc.WriteRegisters(ids, [eax, ebx, ecx, edx]);
        return 1;
    }

    /// <summary>Hands an accepted write of an async-PF MSR to the protocol (an ACK may raise the next page-ready vector).</summary>
    private void ApplyAsyncPfMsr(uint index, ulong value)
    {
        switch (index)
        {
            case KvmParavirtMsrs.AsyncPfEnable: AsyncPf.WriteEnable(value); break;
            case KvmParavirtMsrs.AsyncPfInterrupt: AsyncPf.WriteVector(value); break;
            case KvmParavirtMsrs.AsyncPfAck: AsyncPf.Acknowledge(value); break;
        }
    }

    /// <summary>
    /// Emulates the RDMSR (<paramref name="write"/> false) or WRMSR the MSR intercept stopped on (RIP on it,
    /// nothing executed): the MSR table answers and RIP moves past the instruction, or the guest gets #GP(0).
    /// </summary>
    private void EmulateMsrAccess(SoftCpuEngine engine, bool write)
    {
        var uc = engine.Uc;
        uint index = (uint)uc.ReadRegister(UC_X86_REG_RCX);
        bool done;
        if (write)
        {
            ulong value = (uc.ReadRegister(UC_X86_REG_RDX) << 32) | (uc.ReadRegister(UC_X86_REG_RAX) & 0xFFFF_FFFF);
            done = _msrs.TryWrite(index, value);
            if (done) ApplyAsyncPfMsr(index, value);
        }
        else
        {
            done = _msrs.TryRead(index, out ulong value);
            if (done)
            {
                uc.WriteRegister(UC_X86_REG_RAX, value & 0xFFFF_FFFF);
                uc.WriteRegister(UC_X86_REG_RDX, value >> 32);
            }
        }
        if (!done)
        {
            _pendingEvent = GuestEvent.Fault(GuestEvent.GeneralProtection, 0);
            return;
        }
        ulong rip = uc.ReadRegister(UC_X86_REG_RIP);
        uc.WriteRegister(UC_X86_REG_RIP, rip + (ulong)InstructionLength(engine, rip, 0x0F, 2));
    }

    /// <summary>
    /// Queues external interrupt <paramref name="vector"/> (thread-safe): delivered through the guest's IVT/IDT at
    /// the next instruction boundary where RFLAGS.IF is set and no STI/MOV SS shadow is active, oldest first.
    /// A running vCPU stops at its next block start to take it; a vCPU outside Run takes it when Run is next called.
    /// </summary>
    public void QueueExternalInterrupt(byte vector)
    {
        lock (_gate)
        {
            // Like Kick: a disposed vCPU runs no more guest code, so there is nothing to deliver to.
            if (_disposed) return;
            _externalInterrupts.Enqueue(vector);
            if (_running) RequestInternalStop();
        }
    }

    /// <summary>
    /// While an external interrupt waits for the guest to set IF or leave an interrupt shadow, emulation stops soon after
    /// each entry so the run loop can try again. Usually a managed block hook stops at every block start after the first
    /// of each uc_emu_start (every instruction that sets IF or ends a shadow ends its translation block, so a block start
    /// is the first boundary where the interrupt may be taken; skipping the first one lets the guest make progress). The
    /// hook comes with every engine (QEMU only calls hooks that existed when it translated a block) and does nothing while
    /// no interrupt waits. (The code hooks' window word, <see cref="SoftStopWords"/>, stays off: they cover only precise
    /// blocks, and every block still has this block hook.)
    /// </summary>
    private void WatchInterruptWindow(SoftCpuEngine engine)
    {
        bool pending;
        lock (_gate) pending = _externalInterrupts.Count > 0;
        _windowWanted = pending;
    }

    /// <summary>True while the window hooks stop emulation for a waiting interrupt (tests).</summary>
    internal bool InterruptWindowWatchedForTest => _windowWanted;

    /// <summary>The current engine (tests: whether it was rebuilt).</summary>
    internal SoftCpuEngine? EngineForTest => _engine;

    /// <summary>The blocks the current engine gives a precise-fault code hook (tests).</summary>
    internal IReadOnlyList<(ulong First, ulong Last)> PreciseBlocksForTest => _engine?.PreciseBlocks ?? [];

    /// <summary>Gives the block [<paramref name="first"/>, <paramref name="last"/>] a code hook from the next engine on, as a fault there would (tests; run thread or before Run).</summary>
    internal void AddPreciseBlockForTest(ulong first, ulong last) => _preciseBlocks = [.. _preciseBlocks, (first, last)];

    /// <summary>The interrupt-window block hook (see <see cref="WatchInterruptWindow"/>): while an interrupt waits, stops at the second and later block starts.</summary>
    internal void InterruptWindowBlock(nint uc, ulong address)
    {
        if (!_windowWanted || _blocksThisEmulation++ == 0) return;
        _internalStop = true;
        SoftStopWords.RecordStop(_stop.Address, address);
        uc_emu_stop(uc);
    }

    /// <summary>
    /// Delivers the oldest queued external interrupt if the guest can take it now (run thread, outside guest
    /// mode); returns the exit when delivery itself ends the run (triple fault).
    /// </summary>
    private VcpuExit? DeliverExternalInterrupt(SoftCpuEngine engine)
    {
        byte vector;
        lock (_gate)
        {
            if (!_externalInterrupts.TryPeek(out vector)) return null;
        }
        if ((engine.Uc.ReadRegister(UC_X86_REG_RFLAGS) & (1UL << 9)) == 0) return null;
        if (UnicornCpuContext.InterruptShadow(engine.SaveState())) return null;
        lock (_gate) _externalInterrupts.Dequeue();
        return DeliverEvent(engine, new GuestEvent(vector, GuestEventKind.External));
    }

    /// <summary>
    /// Delivers <paramref name="ev"/> through the guest's IVT or IDT (<see cref="SoftEventDelivery"/>), outside
    /// uc_emu_start; writes RIP, RSP, RFLAGS, CS, SS and CR2 back and ends any interrupt shadow. Returns the
    /// exit when the guest cannot go on (triple fault).
    /// </summary>
    private VcpuExit? DeliverEvent(SoftCpuEngine engine, GuestEvent ev)
    {
        var uc = engine.Uc;
        var before = UnicornCpuContext.ReadSpecialRegisters(engine.SaveState(), _cr8, _msrs[SoftMsrTable.ApicBase]);
        var cpu = new SoftEventDelivery.CpuState
        {
            Rip = uc.ReadRegister(UC_X86_REG_RIP),
            Rsp = uc.ReadRegister(UC_X86_REG_RSP),
            Rflags = uc.ReadRegister(UC_X86_REG_RFLAGS),
            Sregs = before,
        };
        if (SoftEventDelivery.Deliver(ref cpu, ev, engine.Memslots, _vm.Mmu) is { } fatal) return fatal;
        uc.WriteRegister(UC_X86_REG_RIP, cpu.Rip);
        uc.WriteRegister(UC_X86_REG_RSP, cpu.Rsp);
        uc.WriteRegister(UC_X86_REG_RFLAGS, cpu.Rflags);
        byte* blob = engine.SaveState();
        UnicornCpuContext.WriteSegment(blob, UnicornCpuContext.SegOffset(UnicornCpuContext.SegCs), cpu.Sregs.Cs);
        if (cpu.Sregs.Ss != before.Ss) UnicornCpuContext.WriteSegment(blob, UnicornCpuContext.SegOffset(UnicornCpuContext.SegSs), cpu.Sregs.Ss);
        if (cpu.Cr2Written) UnicornCpuContext.SetU64(blob, UnicornCpuContext.Cr + 16, cpu.Sregs.Cr2);
        UnicornCpuContext.EndInterruptShadow(blob);
        UnicornCpuContext.PrepareForRun(blob, engine.BlobSize);
        engine.RestoreState();
        return null;
    }

    /// <summary>Maps a uc_err that ended uc_emu_start without a hook having explained it.</summary>
    private VcpuExit ErrorExit(SoftCpuEngine engine, int error)
    {
        ulong rip = engine.Uc.ReadRegister(UC_X86_REG_RIP);
        return new VcpuExit.InternalError($"uc_emu_start failed: {StrError(error)} (uc_err {error}) at RIP 0x{rip:x}");
    }

    /// <summary>The paging registers, read live (the guest may have changed them since Run started).</summary>
    private static GuestPageWalker.PagingState Paging(SoftCpuEngine engine)
    {
        // EFER from the saved state, not uc_reg_read(UC_X86_REG_MSR): Unicorn reads an MSR by running helper_rdmsr,
        // whose MSR-intercept check (SoftMsrIntercept) would call back into managed code from a hook.
        ulong efer = UnicornCpuContext.U64(engine.SaveState(), UnicornCpuContext.Efer);
        return new GuestPageWalker.PagingState(
            engine.Uc.ReadRegister(UC_X86_REG_CR0), engine.Uc.ReadRegister(UC_X86_REG_CR3), engine.Uc.ReadRegister(UC_X86_REG_CR4), efer);
    }

    /// <summary>
    /// Length of the instruction at RIP whose opcode starts with <paramref name="opcode"/> and is
    /// <paramref name="opcodeLength"/> bytes long (hlt, rdmsr, wrmsr), prefixes included.
    /// </summary>
    private static int InstructionLength(SoftCpuEngine engine, ulong rip, byte opcode, int opcodeLength)
    {
        byte* blob = engine.SaveState();
        var sregs = UnicornCpuContext.ReadSpecialRegisters(blob, 0, 0);
        bool longMode = (sregs.Efer & ControlBits.EferLma) != 0 && sregs.Cs.L;
        ulong linear = sregs.Cs.Base + rip;
        if (!longMode) linear &= 0xFFFF_FFFF;
        Span<byte> bytes = stackalloc byte[15];
        var paging = new GuestPageWalker.PagingState(sregs.Cr0, sregs.Cr3, sregs.Cr4, sregs.Efer);
        if (!GuestPageWalker.TryReadLinear(engine.Memslots, paging, linear, bytes)) return 1;
        for (int i = 0; i < bytes.Length; i++)
        {
            byte b = bytes[i];
            if (b == opcode) return i + opcodeLength;
            bool prefix = b is 0x26 or 0x2E or 0x36 or 0x3E or 0x64 or 0x65 or 0x66 or 0x67 or 0xF0 or 0xF2 or 0xF3
                || (longMode && b is >= 0x40 and <= 0x4F);
            if (!prefix) break;
        }
        return opcodeLength;
    }

    /// <summary>Stops the vCPU for good and closes its engine (at once, or when a Run in progress returns).</summary>
    public void Dispose()
    {
        lock (_gate)
        {
            if (_disposed) return;
            _disposed = true;
            if (_running) RequestStop();
            Monitor.PulseAll(_gate);
        }
        // No more timer or page-ready interrupts, nothing more written into the guest: it runs no more code.
        AsyncPf.Close();
        Apic.Dispose();
        Interlocked.MemoryBarrier();
        if (Volatile.Read(ref _inRun) == 0) Release();
    }

    private void Release()
    {
        if (Interlocked.Exchange(ref _released, 1) != 0) return;
        SoftCpuEngine? engine;
        lock (_gate)
        {
            engine = _engine;
            _engine = null;
        }
        engine?.Dispose();
        if (_self.IsAllocated) _self.Free();
        _participant.Dispose();
    }
}
