using Actorvisor.Hardware.Snapshots;
using Actorvisor.Hardware.X86;

namespace Actorvisor.Hardware.AsyncPf;

/// <summary>
/// One vCPU's side of KVM's paravirtual async page-fault protocol (Documentation/virt/kvm/x86/msr.rst), as the
/// software accelerator does it (on KVM the kernel's async_pf.c does): the guest's MSR_KVM_ASYNC_PF_EN / _INT /
/// _ACK values, the tokens of "page not present" events it was sent, and the "page ready" events waiting for it.
/// It decides and writes the guest's area; the vCPU injects the #PF it asks for, and the page-ready vector goes to
/// <c>raiseVector</c> (the vCPU's local APIC). Thread-safe: the vCPU thread calls the MSR and not-present side, the
/// thread that installed a page calls <see cref="PageReady"/>; <c>raiseVector</c> is called without the lock.
/// </summary>
public sealed class AsyncPfProtocol
{
    /// <summary>ASYNC_PF_PER_VCPU: outstanding "page not present" events per vCPU; past it the vCPU blocks.</summary>
    public const int PerVcpuLimit = 64;

    /// <summary>The token of a "page ready" that wakes every sleeper.</summary>
    public const uint WakeupAllToken = 0xffff_ffff;

    /// <summary>KVM_PV_REASON_PAGE_NOT_PRESENT, the area's flags for a "page not present" #PF.</summary>
    public const uint PageNotPresentReason = 1;

    /// <summary>Offset of the token in the area (after the 32-bit flags).</summary>
    public const ulong TokenOffset = 4;

    private readonly object _gate = new();
    private readonly int _vcpuId;
    private readonly IAsyncPfGuestArea _area;
    private readonly Action<int> _raiseVector;
    private readonly Dictionary<uint, ulong> _outstanding = [];
    private readonly Queue<uint> _ready = new();
    private ulong _enableValue, _vector;
    private uint _nextId;
    private bool _pageReadyPending;
    private bool _closed;
    private long _notPresentSent, _readySent, _flushed, _readyDropped;

    /// <summary>The protocol of vCPU <paramref name="vcpuId"/>, writing into <paramref name="area"/> and raising the page-ready vector with <paramref name="raiseVector"/>.</summary>
    public AsyncPfProtocol(int vcpuId, IAsyncPfGuestArea area, Action<int> raiseVector)
    {
        ArgumentNullException.ThrowIfNull(area);
        ArgumentNullException.ThrowIfNull(raiseVector);
        _vcpuId = vcpuId;
        _area = area;
        _raiseVector = raiseVector;
    }

    /// <summary>True when the guest enabled the protocol with interrupt delivery (kvm_pv_async_pf_enabled): only then is anything sent.</summary>
    public bool IsEnabled
    {
        get { lock (_gate) return EnabledLocked; }
    }

    private bool EnabledLocked =>
        (_enableValue & (KvmParavirtMsrs.Enabled | KvmParavirtMsrs.DeliveryAsInt)) == (KvmParavirtMsrs.Enabled | KvmParavirtMsrs.DeliveryAsInt);

    private ulong AreaAddress => _enableValue & ~0x3fUL;

    /// <summary>"Page not present" events sent and not yet answered by a "page ready".</summary>
    public int Outstanding
    {
        get { lock (_gate) return _outstanding.Count; }
    }

    /// <summary>"Page ready" events held until the guest frees its area's token and ACKs.</summary>
    public int Queued
    {
        get { lock (_gate) return _ready.Count; }
    }

    /// <summary>"Page not present" events sent so far.</summary>
    public long NotPresentSent => Interlocked.Read(ref _notPresentSent);

    /// <summary>"Page ready" vectors raised so far.</summary>
    public long ReadySent => Interlocked.Read(ref _readySent);

    /// <summary>Outstanding and queued events dropped by disabling or <see cref="Flush"/>.</summary>
    public long Flushed => Interlocked.Read(ref _flushed);

    /// <summary>
    /// <see cref="PageReady"/> calls dropped without a word to the guest: the token was no longer outstanding (flushed,
    /// or never sent), or the protocol is off or closed. A flushed token's fetch ending later lands here.
    /// </summary>
    public long ReadyDropped => Interlocked.Read(ref _readyDropped);

    /// <summary>The guest wrote MSR_KVM_ASYNC_PF_EN (already validated). Disabling flushes the queue, as KVM does.</summary>
    public void WriteEnable(ulong value)
    {
        bool deliver;
        lock (_gate)
        {
            _enableValue = value;
            if (!EnabledLocked) FlushLocked();
            deliver = EnabledLocked;
        }
        if (deliver) DeliverNext();
    }

    /// <summary>The guest wrote MSR_KVM_ASYNC_PF_INT: the page-ready vector.</summary>
    public void WriteVector(ulong value)
    {
        lock (_gate) _vector = value & 0xff;
    }

    /// <summary>The guest wrote MSR_KVM_ASYNC_PF_ACK: bit 0 lets the next "page ready" through.</summary>
    public void Acknowledge(ulong value)
    {
        if ((value & 1) == 0) return;
        lock (_gate) _pageReadyPending = false;
        DeliverNext();
    }

    /// <summary>
    /// The vCPU touched missing page <paramref name="gfn"/>. True when the guest can take a "page not present" now
    /// (protocol enabled, <paramref name="interruptsEnabled"/>, user mode or SEND_ALWAYS, limit not reached): the
    /// area's flags are set and the vCPU must inject #PF(error 0) with CR2 = <paramref name="token"/> and keep running;
    /// <see cref="PageReady"/> with that token follows once the page is in. False: resolve the fault synchronously.
    /// </summary>
    public bool TryBeginNotPresent(ulong gfn, bool interruptsEnabled, bool kernelMode, out uint token)
    {
        token = 0;
        lock (_gate)
        {
            if (!EnabledLocked || _closed || !interruptsEnabled) return false;
            if (kernelMode && (_enableValue & KvmParavirtMsrs.SendAlways) == 0) return false;
            if (_outstanding.Count >= PerVcpuLimit) return false;
            // A page already announced (the guest touched it again before its page-ready): KVM waits synchronously.
            if (_outstanding.ContainsValue(gfn)) return false;
            // KVM's token: a per-vCPU sequence number above the vCPU ID; never 0 nor the wakeup-all token.
            do token = (++_nextId << 12) | (uint)(_vcpuId & 0xfff);
            while (token == 0 || token == WakeupAllToken || _outstanding.ContainsKey(token));
            if (!_area.TryWrite32(AreaAddress, PageNotPresentReason)) return false;
            _outstanding[token] = gfn;
            Interlocked.Increment(ref _notPresentSent);
            return true;
        }
    }

    /// <summary>
    /// The page of <paramref name="token"/> is installed (any thread): queue its "page ready". A token no longer
    /// outstanding (flushed, or never sent) is dropped; <see cref="WakeupAllToken"/> is always queued.
    /// </summary>
    public void PageReady(uint token)
    {
        lock (_gate)
        {
            if ((token != WakeupAllToken && !_outstanding.Remove(token)) || !EnabledLocked || _closed)
            {
                Interlocked.Increment(ref _readyDropped);
                return;
            }
            _ready.Enqueue(token);
        }
        DeliverNext();
    }

    /// <summary>Queues a wakeup-all "page ready" (KVM sends one when the guest enables the protocol after a flush).</summary>
    public void WakeupAll() => PageReady(WakeupAllToken);

    /// <summary>
    /// Appends the guest's MSR values and the token counter to a snapshot blob. Events in flight cannot be carried to
    /// another VM (their pages are fetched by this VM's workers), so a vCPU with any is refused.
    /// </summary>
    /// <exception cref="InvalidOperationException">a "page not present" is outstanding or a "page ready" waits.</exception>
    public void SaveState(StateBlobWriter w)
    {
        ArgumentNullException.ThrowIfNull(w);
        lock (_gate)
        {
            if (_outstanding.Count > 0 || _ready.Count > 0 || _pageReadyPending)
                throw new InvalidOperationException(
                    $"vCPU {_vcpuId}: {_outstanding.Count} async page fault(s) outstanding and {_ready.Count + (_pageReadyPending ? 1 : 0)} page-ready event(s) in flight; snapshot once they are done");
            w.U64(_enableValue);
            w.U64(_vector);
            w.U32(_nextId);
        }
    }

    /// <summary>Loads what <see cref="SaveState"/> wrote (a restored vCPU, before it runs).</summary>
    public void RestoreState(ref StateBlobReader r)
    {
        lock (_gate)
        {
            FlushLocked();
            _enableValue = r.U64();
            _vector = r.U64();
            _nextId = r.U32();
        }
    }

    /// <summary>Drops every outstanding and queued event (vCPU reset or destroy; kvm_clear_async_pf_completion_queue).</summary>
    public void Flush()
    {
        lock (_gate) FlushLocked();
    }

    /// <summary>The vCPU is gone: flushes, and from now on nothing is sent or written into the guest.</summary>
    public void Close()
    {
        lock (_gate)
        {
            _closed = true;
            FlushLocked();
        }
    }

    private void FlushLocked()
    {
        Interlocked.Add(ref _flushed, _outstanding.Count + _ready.Count);
        _outstanding.Clear();
        _ready.Clear();
        _pageReadyPending = false;
    }

    /// <summary>
    /// Sends the oldest queued "page ready" when the guest can take it (kvm_arch_can_dequeue_async_page_present):
    /// no earlier one waiting for its ACK and the area's token free (the guest zeroes it before the ACK).
    /// </summary>
    private void DeliverNext()
    {
        int vector;
        lock (_gate)
        {
            if (!EnabledLocked || _closed || _pageReadyPending || _ready.Count == 0) return;
            ulong tokenAt = AreaAddress + TokenOffset;
            if (!_area.TryRead32(tokenAt, out uint current) || current != 0) return;
            uint token = _ready.Dequeue();
            if (!_area.TryWrite32(tokenAt, token)) return;
            _pageReadyPending = true;
            vector = (int)_vector;
            Interlocked.Increment(ref _readySent);
        }
        _raiseVector(vector);
    }
}
