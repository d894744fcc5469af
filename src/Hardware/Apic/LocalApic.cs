using System.Numerics;
using Actorvisor.Hardware.Snapshots;

namespace Actorvisor.Hardware.Apic;

/// <summary>
/// One vCPU's local APIC in xAPIC mode, for the software accelerator (KVM has its own in the kernel): the
/// registers the guest reads and writes through the MMIO page at <see cref="DefaultBase"/> (ID, version, TPR,
/// PPR, EOI, LDR/DFR, SVR, ISR/TMR/IRR, ESR, ICR, the six LVT entries, the timer's initial and current count and
/// divide configuration), fixed interrupts with priority, and the LVT timer in one-shot and periodic mode driven
/// by an <see cref="IApicClock"/>. It owns IRR and ISR: a fixed interrupt (<see cref="RequestInterrupt"/>: an IPI,
/// the timer, a device or the async-PF "page ready" vector) sets its IRR bit; the highest IRR vector whose
/// priority class is above the processor priority moves to ISR and goes to the vCPU through
/// <see cref="IInterruptTarget.RaiseInterrupt"/>; the guest's EOI clears the highest ISR bit and lets the next in.
/// ICR writes go to the <see cref="LocalApicBus"/>, which routes fixed IPIs to the other vCPUs' APICs.
/// </summary>
/// <remarks>
/// Not modelled: x2APIC, TSC-deadline mode, level-triggered interrupts (TMR reads 0), NMI/SMI/INIT/SIPI delivery,
/// the LINT pins and the thermal/performance/error LVT sources (their entries are plain registers), cluster
/// logical destinations, and a divide configuration changed while the timer runs (it takes effect at the next
/// initial-count write). Thread-safe: one lock per APIC, never held while calling the target or another APIC.
/// </remarks>
public sealed class LocalApic : IDisposable
{
    /// <summary>The architectural base address of the xAPIC page.</summary>
    public const ulong DefaultBase = 0xfee0_0000;

    /// <summary>Size of the xAPIC MMIO page.</summary>
    public const ulong WindowSize = 0x1000;

    /// <summary>The version register: integrated APIC version 0x14, six LVT entries (max index 5).</summary>
    public const uint VersionValue = 0x0005_0014;

    /// <summary>Nanoseconds per timer tick before the divider: a 1 GHz APIC bus clock, as KVM's default.</summary>
    public const long BusCycleNanoseconds = 1;

    private const uint Masked = 1u << 16;
    private const uint SoftwareEnable = 1u << 8;
    private const int LvtCount = 6;
    // Writable bits of each LVT entry: vector, delivery mode (not the timer), mask, and the timer's mode; the
    // LINT entries also keep polarity and trigger mode. Delivery status and remote IRR are read-only (0 here).
    private static readonly uint[] LvtWritable = [0x0007_00ff, 0x0001_07ff, 0x0001_07ff, 0x0001_a7ff, 0x0001_a7ff, 0x0001_00ff];
    private const uint EsrSendIllegalVector = 1u << 5;
    private const uint EsrReceiveIllegalVector = 1u << 6;

    private readonly object _gate = new();
    private readonly IInterruptTarget _target;
    private readonly IApicClock _clock;
    private readonly uint[] _irr = new uint[8];
    private readonly uint[] _isr = new uint[8];
    private readonly uint[] _lvt = new uint[LvtCount];
    private uint _id, _tpr, _ldr, _dfr = 0xffff_ffff, _svr = 0xff, _esr, _esrPending, _icrLow, _icrHigh;
    private uint _initialCount, _divideConfig;
    // The running timer: started at _timerStart with a period of _timerPeriod ns, next due at _timerDue; alarms of
    // an older _timerGeneration are stale and do nothing.
    private bool _timerRunning;
    private long _timerStart, _timerPeriod, _timerDue, _timerGeneration;
    private int _timerDivisor = 2;
    private IDisposable? _alarm;
    private bool _disposed;
    private long _delivered, _eois, _timerFirings, _coalesced, _droppedWhileDisabled, _illegalVectors, _ipisSent;

    /// <summary>
    /// An APIC with ID <paramref name="id"/> in its reset state (software-disabled, every LVT masked) that delivers
    /// to <paramref name="target"/>, joins <paramref name="bus"/> for IPIs if given, and times with
    /// <paramref name="clock"/> (default: the host's, <see cref="SystemApicClock"/>).
    /// </summary>
    public LocalApic(int id, IInterruptTarget target, LocalApicBus? bus = null, IApicClock? clock = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(id);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(id, 0xfe);
        ArgumentNullException.ThrowIfNull(target);
        _id = (uint)id;
        _target = target;
        _clock = clock ?? SystemApicClock.Instance;
        for (int i = 0; i < LvtCount; i++) _lvt[i] = Masked;
        Bus = bus;
        bus?.Add(this);
    }

    /// <summary>The bus that routes this APIC's IPIs, or null (an IPI then reaches only this APIC, by shorthand or its own ID).</summary>
    public LocalApicBus? Bus { get; }

    /// <summary>The APIC ID (bits 31:24 of the ID register; the guest may change it in xAPIC mode).</summary>
    public int Id
    {
        get { lock (_gate) return (int)_id; }
    }

    /// <summary>The logical destination of flat mode (bits 31:24 of LDR).</summary>
    public int LogicalId
    {
        get { lock (_gate) return (int)(_ldr >> 24); }
    }

    /// <summary>True while SVR's APIC software enable bit is set; a disabled APIC drops fixed interrupts.</summary>
    public bool IsSoftwareEnabled
    {
        get { lock (_gate) return (_svr & SoftwareEnable) != 0; }
    }

    /// <summary>Vectors handed to the target so far.</summary>
    public long Delivered => Interlocked.Read(ref _delivered);

    /// <summary>EOI writes that retired an in-service vector.</summary>
    public long Eois => Interlocked.Read(ref _eois);

    /// <summary>Timer expiries (one per period, masked or not, coalesced ones included).</summary>
    public long TimerFirings => Interlocked.Read(ref _timerFirings);

    /// <summary>Interrupts that found their IRR bit already set, and timer periods the host timer missed, merged into one delivery.</summary>
    public long Coalesced => Interlocked.Read(ref _coalesced);

    /// <summary>Fixed interrupts dropped because the APIC was software-disabled.</summary>
    public long DroppedWhileDisabled => Interlocked.Read(ref _droppedWhileDisabled);

    /// <summary>Vectors 0-15 sent or received (refused and recorded in ESR).</summary>
    public long IllegalVectors => Interlocked.Read(ref _illegalVectors);

    /// <summary>IPIs this APIC sent (ICR writes with a supported delivery mode).</summary>
    public long IpisSent => Interlocked.Read(ref _ipisSent);

    /// <summary>The processor priority now (PPR).</summary>
    public int ProcessorPriority
    {
        get { lock (_gate) return (int)Ppr(); }
    }

    /// <summary>True if <paramref name="vector"/>'s IRR bit is set.</summary>
    public bool IsRequested(int vector)
    {
        lock (_gate) return IsSet(_irr, vector);
    }

    /// <summary>True if <paramref name="vector"/>'s ISR bit is set.</summary>
    public bool IsInService(int vector)
    {
        lock (_gate) return IsSet(_isr, vector);
    }

    /// <summary>
    /// A fixed, edge-triggered interrupt with <paramref name="vector"/> arrives (APIC_DM_FIXED of KVM's
    /// __apic_accept_irq): sets its IRR bit and delivers whatever became deliverable. False if it was refused: the
    /// APIC is software-disabled, or the vector is below 16 (recorded in ESR as a receive illegal vector error).
    /// </summary>
    public bool RequestInterrupt(int vector)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(vector);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(vector, 255);
        lock (_gate)
        {
            if (!Accept(vector)) return false;
        }
        DeliverPending();
        return true;
    }

    /// <summary>Reads the 32-bit register at <paramref name="offset"/> (see <see cref="ApicRegister"/>); unknown offsets read 0.</summary>
    public uint ReadRegister(int offset)
    {
        lock (_gate)
        {
            return offset switch
            {
                ApicRegister.Id => _id << 24,
                ApicRegister.Version => VersionValue,
                ApicRegister.Tpr => _tpr,
                ApicRegister.Ppr => Ppr(),
                ApicRegister.Ldr => _ldr,
                ApicRegister.Dfr => _dfr,
                ApicRegister.Svr => _svr,
                >= ApicRegister.Isr and < ApicRegister.Tmr when offset % 16 == 0 => _isr[(offset - ApicRegister.Isr) >> 4],
                >= ApicRegister.Irr and < ApicRegister.Esr when offset % 16 == 0 => _irr[(offset - ApicRegister.Irr) >> 4],
                ApicRegister.Esr => _esr,
                ApicRegister.IcrLow => _icrLow,
                ApicRegister.IcrHigh => _icrHigh,
                >= ApicRegister.LvtTimer and <= ApicRegister.LvtError when offset % 16 == 0 => _lvt[(offset - ApicRegister.LvtTimer) >> 4],
                ApicRegister.TimerInitialCount => _initialCount,
                ApicRegister.TimerCurrentCount => CurrentCount(),
                ApicRegister.TimerDivide => _divideConfig,
                _ => 0,   // APR, EOI, TMR (edge-triggered only) and reserved offsets
            };
        }
    }

    /// <summary>Writes the 32-bit register at <paramref name="offset"/>; read-only and unknown offsets ignore it.</summary>
    public void WriteRegister(int offset, uint value)
    {
        uint icrLow = 0, icrHigh = 0;
        bool send = false, deliver = false;
        lock (_gate)
        {
            switch (offset)
            {
                case ApicRegister.Id: _id = value >> 24; break;
                case ApicRegister.Tpr: _tpr = value & 0xff; deliver = true; break;
                case ApicRegister.Eoi: deliver = Eoi(); break;
                case ApicRegister.Ldr: _ldr = value & 0xff00_0000; break;
                case ApicRegister.Dfr: _dfr = value | 0x0fff_ffff; break;
                case ApicRegister.Svr: WriteSvr(value); deliver = true; break;
                case ApicRegister.Esr: _esr = _esrPending; _esrPending = 0; break;
                case ApicRegister.IcrHigh: _icrHigh = value & 0xff00_0000; break;
                case ApicRegister.IcrLow:
                    _icrLow = value & ~(1u << 12);   // delivery status: idle once sent
                    (icrLow, icrHigh, send) = (_icrLow, _icrHigh, true);
                    break;
                case >= ApicRegister.LvtTimer and <= ApicRegister.LvtError when offset % 16 == 0:
                    int index = (offset - ApicRegister.LvtTimer) >> 4;
                    _lvt[index] = value & LvtWritable[index] | ((_svr & SoftwareEnable) == 0 ? Masked : 0);
                    break;
                case ApicRegister.TimerInitialCount: _initialCount = value; StartTimer(); break;
                case ApicRegister.TimerDivide: _divideConfig = value & 0xb; break;
            }
        }
        if (send) SendIpi(icrLow, icrHigh);
        if (deliver) DeliverPending();
    }

    /// <summary>The LVT timer's mode now.</summary>
    public ApicTimerMode TimerMode
    {
        get { lock (_gate) return (ApicTimerMode)((_lvt[0] >> 17) & 3); }
    }

    /// <summary>The divisor the divide configuration selects now (1 to 128).</summary>
    public int TimerDivisor
    {
        get { lock (_gate) return DivisorOf(_divideConfig); }
    }

    /// <summary>
    /// Back to the power-on state, as a vCPU reset (INIT) leaves it: IRR and ISR empty, TPR 0, software-disabled,
    /// every LVT masked, the timer stopped; the ID stays.
    /// </summary>
    public void Reset()
    {
        lock (_gate)
        {
            StopTimer();
            Array.Clear(_irr);
            Array.Clear(_isr);
            for (int i = 0; i < LvtCount; i++) _lvt[i] = Masked;
            (_tpr, _ldr, _dfr, _svr, _esr, _esrPending, _icrLow, _icrHigh) = (0, 0, 0xffff_ffff, 0xff, 0, 0, 0, 0);
            (_initialCount, _divideConfig) = (0, 0);
        }
    }

    /// <summary>
    /// Appends the APIC's architectural state to a snapshot blob: every register, IRR and ISR, and the timer as the
    /// time left to its next expiry (the host clock of another process or node has another origin).
    /// </summary>
    public void SaveState(StateBlobWriter w)
    {
        ArgumentNullException.ThrowIfNull(w);
        lock (_gate)
        {
            foreach (var v in (uint[])[_id, _tpr, _ldr, _dfr, _svr, _esr, _esrPending, _icrLow, _icrHigh, _initialCount, _divideConfig]) w.U32(v);
            foreach (var v in _lvt) w.U32(v);
            foreach (var v in _irr) w.U32(v);
            foreach (var v in _isr) w.U32(v);
            w.Bool(_timerRunning);
            w.I64(_timerRunning ? Math.Max(0, _timerDue - _clock.NowNanoseconds) : 0);
            w.I64(_timerPeriod);
            w.U32((uint)_timerDivisor);
        }
    }

    /// <summary>
    /// Loads what <see cref="SaveState"/> wrote (a restored vCPU, before it runs): the registers, IRR and ISR; a timer
    /// that was running is armed to expire after the time it had left. Vectors pending in IRR are delivered at once.
    /// </summary>
    public void RestoreState(ref StateBlobReader r)
    {
        lock (_gate)
        {
            StopTimer();
            (_id, _tpr, _ldr, _dfr, _svr, _esr, _esrPending, _icrLow, _icrHigh, _initialCount, _divideConfig) =
                (r.U32(), r.U32(), r.U32(), r.U32(), r.U32(), r.U32(), r.U32(), r.U32(), r.U32(), r.U32(), r.U32());
            for (int i = 0; i < LvtCount; i++) _lvt[i] = r.U32();
            for (int i = 0; i < 8; i++) _irr[i] = r.U32();
            for (int i = 0; i < 8; i++) _isr[i] = r.U32();
            bool running = r.Bool();
            long left = r.I64();
            _timerPeriod = r.I64();
            _timerDivisor = (int)r.U32();
            if (running && !_disposed)
            {
                long now = _clock.NowNanoseconds;
                _timerDue = now + left;
                _timerStart = _timerDue - _timerPeriod;
                _timerRunning = true;
                Arm();
            }
        }
        DeliverPending();
    }

    /// <summary>Stops the timer; later writes still update registers but no alarm runs.</summary>
    public void Dispose()
    {
        lock (_gate)
        {
            _disposed = true;
            StopTimer();
        }
    }

    // ---- priority, delivery, EOI (caller holds _gate unless noted) ----

    private bool Accept(int vector)
    {
        if (vector < 16)
        {
            _esrPending |= EsrReceiveIllegalVector;
            Interlocked.Increment(ref _illegalVectors);
            return false;
        }
        if ((_svr & SoftwareEnable) == 0)
        {
            Interlocked.Increment(ref _droppedWhileDisabled);
            return false;
        }
        if (!Set(_irr, vector)) Interlocked.Increment(ref _coalesced);
        return true;
    }

    /// <summary>
    /// Without the lock: hands every deliverable vector to the target, highest first. Each one raises PPR to its
    /// class, so the next can only be of a higher class (a nested interrupt), and the loop ends.
    /// </summary>
    private void DeliverPending()
    {
        while (true)
        {
            int vector;
            lock (_gate)
            {
                vector = Highest(_irr);
                if (vector < 0 || (vector & 0xf0) <= (Ppr() & 0xf0)) return;
                Clear(_irr, vector);
                Set(_isr, vector);
            }
            Interlocked.Increment(ref _delivered);
            _target.RaiseInterrupt(vector);
        }
    }

    private uint Ppr()
    {
        int isrv = Math.Max(Highest(_isr), 0);
        return (_tpr & 0xf0) >= ((uint)isrv & 0xf0) ? _tpr : (uint)isrv & 0xf0;
    }

    private bool Eoi()
    {
        int vector = Highest(_isr);
        if (vector < 0) return false;
        Clear(_isr, vector);
        Interlocked.Increment(ref _eois);
        return true;
    }

    private void WriteSvr(uint value)
    {
        _svr = value & 0x3ff;
        if ((_svr & SoftwareEnable) == 0)
            for (int i = 0; i < LvtCount; i++) _lvt[i] |= Masked;
    }

    // ---- IPIs ----

    private void SendIpi(uint icrLow, uint icrHigh)
    {
        int vector = (int)(icrLow & 0xff);
        var mode = (icrLow >> 8) & 7;
        if (mode is not (0 or 1)) return;   // only fixed and lowest-priority are modelled
        if (vector < 16)
        {
            lock (_gate) _esrPending |= EsrSendIllegalVector;
            Interlocked.Increment(ref _illegalVectors);
            return;
        }
        Interlocked.Increment(ref _ipisSent);
        var shorthand = (IpiShorthand)((icrLow >> 18) & 3);
        bool logical = (icrLow & (1u << 11)) != 0;
        int destination = (int)(icrHigh >> 24);
        if (Bus is { } bus) bus.Route(this, vector, shorthand, logical, destination, lowestPriority: mode == 1);
        else if (shorthand is IpiShorthand.Self or IpiShorthand.AllIncludingSelf || Matches(logical, destination)) RequestInterrupt(vector);
    }

    /// <summary>True if a destination field of <paramref name="destination"/> in physical or flat logical mode names this APIC.</summary>
    internal bool Matches(bool logical, int destination)
    {
        lock (_gate)
        {
            if (logical) return (destination & (int)(_ldr >> 24)) != 0;
            return destination == 0xff || destination == (int)_id;
        }
    }

    // ---- timer ----

    private void StartTimer()
    {
        StopTimer();
        var mode = (ApicTimerMode)((_lvt[0] >> 17) & 3);
        if (_initialCount == 0 || _disposed || mode == ApicTimerMode.TscDeadline) return;
        _timerDivisor = DivisorOf(_divideConfig);
        _timerPeriod = _initialCount * (long)_timerDivisor * BusCycleNanoseconds;
        _timerStart = _clock.NowNanoseconds;
        _timerDue = _timerStart + _timerPeriod;
        _timerRunning = true;
        Arm();
    }

    private void StopTimer()
    {
        _timerGeneration++;
        _timerRunning = false;
        _alarm?.Dispose();
        _alarm = null;
    }

    private void Arm()
    {
        long generation = _timerGeneration;
        _alarm?.Dispose();
        _alarm = _clock.Schedule(_timerDue, () => OnAlarm(generation));
    }

    private void OnAlarm(long generation)
    {
        bool deliver = false;
        lock (_gate)
        {
            if (generation != _timerGeneration || !_timerRunning) return;
            long now = _clock.NowNanoseconds;
            if (now < _timerDue)
            {
                Arm();   // an alarm may not come early, but be safe: the count must read 0 at expiry
                return;
            }
            Interlocked.Increment(ref _timerFirings);
            if ((ApicTimerMode)((_lvt[0] >> 17) & 3) == ApicTimerMode.Periodic)
            {
                long missed = (now - _timerDue) / _timerPeriod;
                if (missed > 0)
                {
                    Interlocked.Add(ref _timerFirings, missed);
                    Interlocked.Add(ref _coalesced, missed);
                }
                _timerDue += (missed + 1) * _timerPeriod;
                Arm();
            }
            else
            {
                _timerRunning = false;
                _alarm = null;
            }
            if ((_lvt[0] & Masked) == 0) deliver = Accept((int)(_lvt[0] & 0xff));
        }
        if (deliver) DeliverPending();
    }

    private uint CurrentCount()
    {
        if (!_timerRunning) return 0;
        long tickNs = _timerDivisor * BusCycleNanoseconds;
        long left = _timerDue - _clock.NowNanoseconds;
        if (left <= 0)
        {
            // Expired but the alarm has not run yet: a one-shot timer reads 0; a periodic one has reloaded.
            if ((ApicTimerMode)((_lvt[0] >> 17) & 3) != ApicTimerMode.Periodic) return 0;
            left = _timerPeriod - (-left % _timerPeriod);
        }
        return (uint)Math.Min((left + tickNs - 1) / tickNs, _initialCount);
    }

    /// <summary>Divide configuration bits 3, 1, 0 -> divisor: 000 = 2, 001 = 4, ..., 011 = 16, 100 = 32, ..., 111 = 1.</summary>
    private static int DivisorOf(uint config)
    {
        uint code = (config & 3) | ((config >> 1) & 4);
        return 1 << (int)((code + 1) & 7);
    }

    // ---- 256-bit registers ----

    private static bool IsSet(uint[] bits, int vector) => (bits[vector >> 5] & (1u << (vector & 31))) != 0;

    private static bool Set(uint[] bits, int vector)
    {
        uint bit = 1u << (vector & 31);
        bool was = (bits[vector >> 5] & bit) != 0;
        bits[vector >> 5] |= bit;
        return !was;
    }

    private static void Clear(uint[] bits, int vector) => bits[vector >> 5] &= ~(1u << (vector & 31));

    private static int Highest(uint[] bits)
    {
        for (int w = 7; w >= 0; w--)
            if (bits[w] != 0) return w * 32 + 31 - BitOperations.LeadingZeroCount(bits[w]);
        return -1;
    }
}
