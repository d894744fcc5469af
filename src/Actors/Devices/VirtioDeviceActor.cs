using Actorvisor.Hardware.Devices.Virtio;
using Akka.Actor;

namespace Actorvisor.Actors.Devices;

/// <summary>
/// Owns one virtio-mmio device of a VM and serves its queues, off the vCPU thread. A notification that reaches a vCPU
/// thread (the software accelerator's QueueNotify exit), a tap or a vsock socket only tells this actor, and the queue
/// work (descriptor walks, image file I/O, used-ring updates, interrupts) runs here, on Akka's blocking-I/O
/// dispatcher. On KVM the device's own I/O thread (its ioeventfd poller) serves a notified queue's first round itself
/// and tells this actor only of what remains: one host thread woken per guest request, not two; the transport's
/// service lock orders those rounds with the actor's. A busy queue is served a budget of chains at a time, the actor
/// telling itself to go on, so teardown messages are never stuck behind it. Notifications arriving while a round is
/// already queued are folded into it. Released in the teardown's release-devices step like any
/// <see cref="DeviceActor"/>: the transport is disposed then, and no round runs after.
/// </summary>
public sealed class VirtioDeviceActor : ReceiveActor
{
    /// <summary>Where the actor runs: file I/O blocks, so not on the default dispatcher.</summary>
    public const string Dispatcher = "akka.actor.default-blocking-io-dispatcher";

    private readonly VmDevice _device;
    private readonly VirtioMmioTransport _transport;
    private readonly Notifications _notifications;

    /// <summary>Props for the actor owning <paramref name="device"/>, whose object is <paramref name="transport"/>.</summary>
    public static Props Props(VmDevice device, VirtioMmioTransport transport) =>
        Akka.Actor.Props.Create(() => new VirtioDeviceActor(device, transport)).WithDispatcher(Dispatcher);

    /// <summary>Use <see cref="Props"/>; public for the actor factory.</summary>
    public VirtioDeviceActor(VmDevice device, VirtioMmioTransport transport)
    {
        _device = device ?? throw new ArgumentNullException(nameof(device));
        _transport = transport ?? throw new ArgumentNullException(nameof(transport));
        _notifications = new Notifications(Self, transport.QueueCount);
        Receive<ServeVirtqueue>(Serve);
        Receive<FlushDevice>(_ => Sender.Tell(new DeviceFlushed(device.Name)));
        Receive<ReleaseDevice>(_ =>
        {
            _transport.SetNotifySink(null);
            _device.Release();
            Sender.Tell(new DeviceReleased(device.Name));
        });
    }

    /// <inheritdoc />
    protected override void PreStart()
    {
        _transport.SetNotifySink(_notifications);
        // A notification may have reached the transport before the sink was set: look at every queue once.
        for (int q = 0; q < _transport.QueueCount; q++) _notifications.QueueNotified(q);
    }

    /// <inheritdoc />
    protected override void PostStop() => _transport.SetNotifySink(null);

    private void Serve(ServeVirtqueue serve)
    {
        if (_device.IsReleased || (uint)serve.Queue >= (uint)_transport.QueueCount) return;
        // Cleared before serving: a notification arriving during the round schedules another one.
        _notifications.Clear(serve.Queue);
        if (_transport.ServeQueue(serve.Queue)) _notifications.QueueNotified(serve.Queue);
    }

    /// <summary>The transport's notification sink: one queued <see cref="ServeVirtqueue"/> per queue at a time.</summary>
    private sealed class Notifications(IActorRef actor, int queues) : IQueueNotifySink
    {
        private readonly int[] _scheduled = new int[queues];

        public void QueueNotified(int queue)
        {
            if ((uint)queue >= (uint)_scheduled.Length) return;
            if (Interlocked.Exchange(ref _scheduled[queue], 1) == 0) actor.Tell(new ServeVirtqueue(queue));
        }

        public void Clear(int queue) => Volatile.Write(ref _scheduled[queue], 0);

        public bool ServesOnIoThreads => true;
    }
}
