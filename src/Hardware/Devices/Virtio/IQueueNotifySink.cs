namespace Actorvisor.Hardware.Devices.Virtio;

/// <summary>
/// Where a virtio device's queue notifications go: the owner that serves the queue off the vCPU thread (the device
/// actor). Called on the vCPU thread for a QueueNotify write that reached the transport, or on the ioeventfd
/// reader's thread on KVM; it must only hand the work on.
/// </summary>
public interface IQueueNotifySink
{
    /// <summary>The driver made buffers available on queue <paramref name="queue"/>.</summary>
    void QueueNotified(int queue);

    /// <summary>
    /// True if the device's own I/O thread (KVM's ioeventfd poller; never a vCPU thread) may serve a notified queue's
    /// first round itself, before anything is handed on (<see cref="VirtioMmioTransport.NotifyOnIoThread"/>).
    /// </summary>
    bool ServesOnIoThreads => false;
}
