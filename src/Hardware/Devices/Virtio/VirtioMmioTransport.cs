using System.Buffers.Binary;
using Actorvisor.Hardware.Accel;
using Actorvisor.Hardware.Memory;
using Actorvisor.Hardware.Snapshots;

namespace Actorvisor.Hardware.Devices.Virtio;

/// <summary>
/// The virtio-mmio transport, version 2 registers (virtio 1.x section 4.2), in front of one
/// <see cref="IVirtioDevice"/>: owns the device status, feature negotiation (the driver must accept VERSION_1 and
/// nothing that was not offered, or FEATURES_OK is refused), the split virtqueues and the interrupt status. A
/// QueueNotify write is handed to the <see cref="IQueueNotifySink"/> (the device actor), which calls
/// <see cref="ServeQueue"/> off the vCPU thread; without a sink the queue is served on the notifying thread. A
/// malformed ring sets DEVICE_NEEDS_RESET, raises a configuration-change interrupt and stops all service until the
/// driver resets the device. Register accesses are 32-bit and aligned; the configuration space takes any width.
/// Disposing the transport disposes the device once no queue is being served. Its state (registers, negotiated
/// features, queues, pending interrupt bits) goes into a snapshot as device state under the device's name; the device
/// behind it keeps none of its own between requests (virtio-blk completes each one before the round ends).
/// </summary>
public sealed class VirtioMmioTransport : IMmioDevice, IStatefulDevice, IDisposable
{
    /// <summary>InterruptStatus bit 0: a queue has new used buffers.</summary>
    public const uint InterruptUsedBuffer = 1;
    /// <summary>InterruptStatus bit 1: the configuration changed (or the device needs a reset).</summary>
    public const uint InterruptConfigChange = 2;
    /// <summary>Chains one <see cref="ServeQueue"/> call completes at most before it lets the caller decide to go on.</summary>
    public const int DefaultServeBudget = 64;

    private readonly object _registers = new();
    private readonly object _service = new(); // taken before _registers when both are needed
    private readonly IVirtioDevice _device;
    private readonly SplitVirtqueue[] _queues;
    private readonly IVirtioInterrupt? _interrupt;
    private readonly ulong _offered;
    private IQueueNotifySink? _notifySink;
    private VirtioDeviceStatus _status;
    private uint _deviceFeaturesSel, _driverFeaturesSel, _queueSel;
    private ulong _driverFeatures;
    private int _interruptStatus;
    private long _notifyExits, _interrupts, _faults;
    private string? _lastFault;
    private bool _disposed;

    /// <summary>
    /// A transport for <paramref name="device"/> whose queues live in <paramref name="memory"/> and which interrupts
    /// through <paramref name="interrupt"/> (null: the driver polls the used rings).
    /// </summary>
    public VirtioMmioTransport(IVirtioDevice device, GuestPhysicalMemory memory, IVirtioInterrupt? interrupt)
    {
        _device = device ?? throw new ArgumentNullException(nameof(device));
        ArgumentNullException.ThrowIfNull(memory);
        if (device.QueueCount < 1) throw new ArgumentException($"device '{device.Name}' has no queues", nameof(device));
        _queues = new SplitVirtqueue[device.QueueCount];
        for (int i = 0; i < _queues.Length; i++) _queues[i] = new SplitVirtqueue(memory, device.MaxQueueSize);
        _interrupt = interrupt;
        _offered = device.DeviceFeatures | VirtioFeature.Transport;
    }

    /// <inheritdoc />
    public string Name => _device.Name;

    /// <summary>The device behind the transport.</summary>
    public IVirtioDevice Device => _device;

    /// <summary>The device status as the driver last set it, with DEVICE_NEEDS_RESET when the device set that.</summary>
    public VirtioDeviceStatus Status
    {
        get { lock (_registers) return _status; }
    }

    /// <summary>Every feature the transport offers (the device's and the transport's own).</summary>
    public ulong OfferedFeatures => _offered;

    /// <summary>The features the driver accepted (meaningful once FEATURES_OK is set).</summary>
    public ulong NegotiatedFeatures
    {
        get { lock (_registers) return _driverFeatures; }
    }

    /// <summary>The pending InterruptStatus bits.</summary>
    public uint InterruptStatus => (uint)Volatile.Read(ref _interruptStatus);

    /// <summary>QueueNotify writes that reached this transport on a vCPU thread (an exit each; 0 when KVM's ioeventfd takes them).</summary>
    public long NotifyExits => Interlocked.Read(ref _notifyExits);

    /// <summary>Interrupts delivered.</summary>
    public long InterruptsSent => Interlocked.Read(ref _interrupts);

    /// <summary>Times the device marked itself DEVICE_NEEDS_RESET.</summary>
    public long Faults => Interlocked.Read(ref _faults);

    /// <summary>Why the device last needed a reset, or null.</summary>
    public string? LastFault => Volatile.Read(ref _lastFault);

    /// <summary>Queue <paramref name="index"/> (read its state in tests; the transport owns it).</summary>
    public SplitVirtqueue Queue(int index) => _queues[index];

    /// <summary>Number of queues.</summary>
    public int QueueCount => _queues.Length;

    /// <summary>Sends queue notifications to <paramref name="sink"/> from now on (null: serve them on the notifying thread).</summary>
    public void SetNotifySink(IQueueNotifySink? sink) => Volatile.Write(ref _notifySink, sink);

    /// <summary>
    /// A notification for queue <paramref name="queue"/> that did not come through MMIO (KVM's ioeventfd): handed
    /// on like a QueueNotify write, without counting as a vCPU exit.
    /// </summary>
    public void Notify(int queue)
    {
        if ((uint)queue >= (uint)_queues.Length) return;
        if (Volatile.Read(ref _notifySink) is { } sink) sink.QueueNotified(queue);
        else ServeAll(queue);
    }

    /// <summary>
    /// A notification for queue <paramref name="queue"/> taken by the device's own I/O thread (KVM's ioeventfd): if the
    /// sink lets I/O threads serve (<see cref="IQueueNotifySink.ServesOnIoThreads"/>), the first round is served here,
    /// with no hand-off to another thread, and only what remains goes to the sink; otherwise as <see cref="Notify"/>.
    /// Rounds are serialised with the sink's own (the transport's service lock).
    /// </summary>
    public void NotifyOnIoThread(int queue)
    {
        if ((uint)queue >= (uint)_queues.Length) return;
        var sink = Volatile.Read(ref _notifySink);
        if (sink is null) ServeAll(queue);
        else if (!sink.ServesOnIoThreads) sink.QueueNotified(queue);
        else if (ServeQueue(queue)) sink.QueueNotified(queue);
    }

    private void ServeAll(int queue)
    {
        while (ServeQueue(queue)) { }
    }

    /// <summary>
    /// Serves queue <paramref name="queue"/> once (at most <paramref name="budget"/> chains) and interrupts the
    /// driver if it asked for it. Does nothing unless the driver is up (DRIVER_OK), the queue ready and the device
    /// healthy. Returns true when chains may remain (call again).
    /// </summary>
    public bool ServeQueue(int queue, int budget = DefaultServeBudget)
    {
        if ((uint)queue >= (uint)_queues.Length) return false;
        ArgumentOutOfRangeException.ThrowIfLessThan(budget, 1);
        lock (_service)
        {
            if (_disposed) return false;
            ulong features;
            lock (_registers)
            {
                if ((_status & (VirtioDeviceStatus.DriverOk | VirtioDeviceStatus.DeviceNeedsReset | VirtioDeviceStatus.Failed)) != VirtioDeviceStatus.DriverOk) return false;
                if (!_queues[queue].Ready) return false;
                features = _driverFeatures;
            }
            var vq = _queues[queue];
            try
            {
                bool more = _device.ServeQueue(queue, vq, features, budget);
                if (vq.NeedsInterrupt()) RaiseInterrupt(InterruptUsedBuffer);
                return more;
            }
            catch (Exception e) when (e is VirtqueueFaultException or GuestMemoryFaultException)
            {
                MarkNeedsReset($"queue {queue}: {e.Message}");
                return false;
            }
        }
    }

    private void MarkNeedsReset(string reason)
    {
        lock (_registers)
        {
            _status |= VirtioDeviceStatus.DeviceNeedsReset;
            foreach (var q in _queues) q.Disable();
        }
        Volatile.Write(ref _lastFault, reason);
        Interlocked.Increment(ref _faults);
        RaiseInterrupt(InterruptConfigChange);
    }

    private void RaiseInterrupt(uint bits)
    {
        Interlocked.Or(ref _interruptStatus, (int)bits);
        Interlocked.Increment(ref _interrupts);
        _interrupt?.Trigger();
    }

    /// <inheritdoc />
    public ExitAction OnMmio(ulong offset, bool isWrite, Span<byte> data)
    {
        if (offset >= VirtioMmioRegister.Config)
        {
            uint at = (uint)Math.Min(offset - VirtioMmioRegister.Config, uint.MaxValue);
            if (isWrite) _device.WriteConfig(at, data);
            else _device.ReadConfig(at, data);
            return ExitAction.Continue;
        }
        if (data.Length != 4 || (offset & 3) != 0)
        {
            // The register area takes aligned 32-bit accesses only (section 4.2.2.2); others read 0 and are dropped.
            if (!isWrite) data.Clear();
            return ExitAction.Continue;
        }
        if (isWrite) WriteRegister((uint)offset, BinaryPrimitives.ReadUInt32LittleEndian(data));
        else BinaryPrimitives.WriteUInt32LittleEndian(data, ReadRegister((uint)offset));
        return ExitAction.Continue;
    }

    private uint ReadRegister(uint offset)
    {
        if (offset == VirtioMmioRegister.InterruptStatus) return InterruptStatus;
        lock (_registers)
        {
            var q = _queueSel < _queues.Length ? _queues[_queueSel] : null;
            return offset switch
            {
                VirtioMmioRegister.MagicValue => VirtioMmioRegister.Magic,
                VirtioMmioRegister.Version => VirtioMmioRegister.LayoutVersion,
                VirtioMmioRegister.DeviceId => _device.DeviceType,
                VirtioMmioRegister.VendorId => VirtioMmioRegister.ActorvisorVendor,
                VirtioMmioRegister.DeviceFeatures => _deviceFeaturesSel switch
                {
                    0 => (uint)_offered,
                    1 => (uint)(_offered >> 32),
                    _ => 0,
                },
                VirtioMmioRegister.QueueNumMax => q?.MaxSize ?? 0u,
                VirtioMmioRegister.QueueNum => q?.Size ?? 0u,
                VirtioMmioRegister.QueueReady => q is { Ready: true } ? 1u : 0u,
                VirtioMmioRegister.Status => (uint)_status,
                VirtioMmioRegister.QueueDescLow => (uint)(q?.DescriptorTable ?? 0),
                VirtioMmioRegister.QueueDescHigh => (uint)((q?.DescriptorTable ?? 0) >> 32),
                VirtioMmioRegister.QueueDriverLow => (uint)(q?.DriverArea ?? 0),
                VirtioMmioRegister.QueueDriverHigh => (uint)((q?.DriverArea ?? 0) >> 32),
                VirtioMmioRegister.QueueDeviceLow => (uint)(q?.DeviceArea ?? 0),
                VirtioMmioRegister.QueueDeviceHigh => (uint)((q?.DeviceArea ?? 0) >> 32),
                VirtioMmioRegister.ConfigGeneration => 0, // the configuration space never changes under the driver
                _ => 0,
            };
        }
    }

    private void WriteRegister(uint offset, uint value)
    {
        switch (offset)
        {
            case VirtioMmioRegister.QueueNotify:
                Interlocked.Increment(ref _notifyExits);
                Notify((int)Math.Min(value, int.MaxValue));
                return;
            case VirtioMmioRegister.InterruptAck:
                Interlocked.And(ref _interruptStatus, (int)~value);
                return;
            case VirtioMmioRegister.Status when value == 0:
                Reset();
                return;
        }
        string? fault = null;
        lock (_registers)
        {
            var q = _queueSel < _queues.Length ? _queues[_queueSel] : null;
            // Queue layout registers are frozen while the queue is ready (section 4.2.3.2).
            var open = q is { Ready: false } ? q : null;
            switch (offset)
            {
                case VirtioMmioRegister.DeviceFeaturesSel: _deviceFeaturesSel = value; break;
                case VirtioMmioRegister.DriverFeaturesSel: _driverFeaturesSel = value; break;
                case VirtioMmioRegister.DriverFeatures when (_status & VirtioDeviceStatus.FeaturesOk) == 0 && _driverFeaturesSel < 2:
                    int shift = (int)_driverFeaturesSel * 32;
                    _driverFeatures = (_driverFeatures & ~(0xffff_ffffUL << shift)) | ((ulong)value << shift);
                    break;
                case VirtioMmioRegister.QueueSel: _queueSel = value; break;
                case VirtioMmioRegister.QueueNum when open is not null: open.Size = (ushort)Math.Min(value, ushort.MaxValue); break;
                case VirtioMmioRegister.QueueDescLow when open is not null: open.DescriptorTable = Low(open.DescriptorTable, value); break;
                case VirtioMmioRegister.QueueDescHigh when open is not null: open.DescriptorTable = High(open.DescriptorTable, value); break;
                case VirtioMmioRegister.QueueDriverLow when open is not null: open.DriverArea = Low(open.DriverArea, value); break;
                case VirtioMmioRegister.QueueDriverHigh when open is not null: open.DriverArea = High(open.DriverArea, value); break;
                case VirtioMmioRegister.QueueDeviceLow when open is not null: open.DeviceArea = Low(open.DeviceArea, value); break;
                case VirtioMmioRegister.QueueDeviceHigh when open is not null: open.DeviceArea = High(open.DeviceArea, value); break;
                case VirtioMmioRegister.QueueReady when q is not null && (_status & VirtioDeviceStatus.DeviceNeedsReset) == 0:
                    if (value == 0) { q.Disable(); break; }
                    if (q.Ready) break;
                    q.EventIndex = (_driverFeatures & VirtioFeature.Bit(VirtioFeature.RingEventIdx)) != 0;
                    try { q.Enable(); }
                    catch (VirtqueueFaultException e) { fault = $"queue {_queueSel}: {e.Message}"; }
                    break;
                case VirtioMmioRegister.Status:
                    fault = SetStatus((VirtioDeviceStatus)value);
                    break;
            }
        }
        if (fault is not null) MarkNeedsReset(fault);
    }

    // Under _registers. Returns a fault to report, or null.
    private string? SetStatus(VirtioDeviceStatus value)
    {
        var added = value & ~_status;
        var keep = _status & VirtioDeviceStatus.DeviceNeedsReset; // the device's bit; the driver cannot clear it but by a reset
        if ((added & VirtioDeviceStatus.FeaturesOk) != 0 && !AcceptableFeatures(_driverFeatures))
            value &= ~VirtioDeviceStatus.FeaturesOk; // refused: the driver reads FEATURES_OK back as clear (section 3.1.1)
        if ((added & VirtioDeviceStatus.DriverOk) != 0 && (value & VirtioDeviceStatus.FeaturesOk) == 0)
            return $"the driver set DRIVER_OK without FEATURES_OK (status 0x{(uint)value:x})";
        _status = (value & ~VirtioDeviceStatus.DeviceNeedsReset) | keep;
        return null;
    }

    private bool AcceptableFeatures(ulong driver) =>
        (driver & ~_offered) == 0 && (driver & VirtioFeature.Bit(VirtioFeature.Version1)) != 0;

    private const string StateTag = "VMMT";
    private const uint StateVersion = 1;

    /// <summary>
    /// The transport's state: the device type and queue count it belongs to, the status, the feature selectors and the
    /// driver's features, QueueSel, the pending InterruptStatus bits and each queue's state. Waits for a queue round in
    /// progress, so no request is half served in it.
    /// </summary>
    public byte[] SaveState()
    {
        var w = new StateBlobWriter(StateTag, StateVersion);
        lock (_service)
        lock (_registers)
        {
            w.U32(_device.DeviceType);
            w.U32((uint)_queues.Length);
            w.U32((uint)_status);
            w.U32(_deviceFeaturesSel);
            w.U32(_driverFeaturesSel);
            w.U64(_driverFeatures);
            w.U32(_queueSel);
            w.U32((uint)Volatile.Read(ref _interruptStatus));
            foreach (var q in _queues) q.SaveState(w);
        }
        return w.ToArray();
    }

    /// <summary>
    /// Loads what <see cref="SaveState"/> saved into this (freshly built) transport, before the guest runs. Requests the
    /// driver made available but the device had not taken when the state was saved are served at the driver's next
    /// notification.
    /// </summary>
    /// <exception cref="FormatException">not a virtio-mmio transport's state, another device type or queue count, or a queue that does not fit.</exception>
    public void RestoreState(ReadOnlySpan<byte> state)
    {
        var r = new StateBlobReader(state, StateTag, StateVersion, $"{Name} (virtio-mmio transport) state");
        lock (_service)
        lock (_registers)
        {
            uint type = r.U32(), queues = r.U32();
            if (type != _device.DeviceType || queues != (uint)_queues.Length)
                throw new FormatException($"{Name}: the state is of a virtio device of type {type} with {queues} queue(s); this one is type {_device.DeviceType} with {_queues.Length}");
            var status = (VirtioDeviceStatus)r.U32();
            uint deviceSel = r.U32(), driverSel = r.U32();
            ulong driverFeatures = r.U64();
            uint queueSel = r.U32(), interrupts = r.U32();
            if ((driverFeatures & ~_offered) != 0)
                throw new FormatException($"{Name}: the driver's features 0x{driverFeatures:x} include some this device does not offer (0x{_offered:x})");
            foreach (var q in _queues) q.RestoreState(ref r);
            r.End();
            _status = status;
            _deviceFeaturesSel = deviceSel;
            _driverFeaturesSel = driverSel;
            _driverFeatures = driverFeatures;
            _queueSel = queueSel;
            Volatile.Write(ref _interruptStatus, (int)interrupts);
        }
    }

    /// <summary>Resets the device as a write of 0 to Status does: queues, features, status and pending interrupts cleared.</summary>
    public void Reset()
    {
        lock (_service)
        lock (_registers)
        {
            _status = VirtioDeviceStatus.None;
            _driverFeatures = 0;
            _deviceFeaturesSel = _driverFeaturesSel = _queueSel = 0;
            foreach (var q in _queues) q.Reset();
            Volatile.Write(ref _interruptStatus, 0);
            _device.Reset();
        }
    }

    /// <summary>Stops all service (waiting for a round in progress) and disposes the device if it is disposable; once.</summary>
    public void Dispose()
    {
        SetNotifySink(null);
        lock (_service)
        {
            if (_disposed) return;
            _disposed = true;
            (_device as IDisposable)?.Dispose();
        }
    }

    private static ulong Low(ulong current, uint value) => (current & 0xffff_ffff_0000_0000UL) | value;

    private static ulong High(ulong current, uint value) => (current & 0xffff_ffffUL) | ((ulong)value << 32);
}
