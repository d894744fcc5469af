using Actorvisor.Actors.Devices;
using Actorvisor.Actors.Vm;
using Akka.Actor;

namespace Actorvisor.Actors.Vfio;

/// <summary>
/// The KVM-VFIO device of one VM (virt/kvm/vfio.c), a child of its VmActor: its mailbox replaces kvm_vfio->lock
/// and its state is the VM's <see cref="VfioAttachments"/>. Attaches, detaches and lists files; after each change
/// it tells its VM (which publishes it) when the VM's non-coherent DMA state flipped. Like every device it
/// answers the teardown's flush barrier and is released in the release-devices step, after the vCPUs stopped:
/// the device and every file are closed then (kvm_vfio_release). It never releases anything when merely
/// stopped: a VM stopped abruptly releases the attachments itself, in its own teardown order.
/// </summary>
public sealed class KvmVfioDeviceActor : ReceiveActor
{
    /// <summary>The device's name in the VM (and its actor's).</summary>
    public const string DeviceName = "kvm-vfio";

    private readonly string _vmName;
    private readonly VfioAttachments _attachments;
    private bool _nonCoherent;

    /// <summary>Props for the device of VM <paramref name="vmName"/> with <paramref name="attachments"/> (possibly already holding files).</summary>
    public static Props Props(string vmName, VfioAttachments attachments) =>
        Akka.Actor.Props.Create(() => new KvmVfioDeviceActor(vmName, attachments));

    /// <summary>Use <see cref="Props"/>; public for the actor factory.</summary>
    public KvmVfioDeviceActor(string vmName, VfioAttachments attachments)
    {
        _vmName = vmName;
        _attachments = attachments ?? throw new ArgumentNullException(nameof(attachments));
        _nonCoherent = attachments.NonCoherentDma;

        Receive<AttachVfioFile>(m =>
        {
            var error = m.Descriptor is { } fd ? _attachments.Attach(fd, m.Name) : _attachments.Attach(m.Name);
            if (error is not null)
            {
                Refuse(error);
                return;
            }
            var attached = _attachments.Files.Last(f => f.Name == m.Name);
            Sender.Tell(new VfioFileAttached(_vmName, attached, _attachments.NonCoherentDma));
            PublishCoherencyIfChanged();
        });
        Receive<DetachVfioFile>(m =>
        {
            if (_attachments.Detach(m.Name) is { } error)
            {
                Refuse(error);
                return;
            }
            Sender.Tell(new VfioFileDetached(_vmName, m.Name, _attachments.NonCoherentDma));
            PublishCoherencyIfChanged();
        });
        Receive<ListVfioFiles>(_ => Sender.Tell(new VfioFileList(_vmName, _attachments.Files, _attachments.NonCoherentDma)));
        Receive<FlushDevice>(_ => Sender.Tell(new DeviceFlushed(DeviceName)));
        Receive<ReleaseDevice>(_ =>
        {
            var released = _attachments.Release();
            Context.Parent.Tell(new VmVfioFilesReleased(_vmName, released));
            PublishCoherencyIfChanged();
            Sender.Tell(new DeviceReleased(DeviceName));
        });
    }

    private void Refuse(VfioError error) => Sender.Tell(new VmRequestFailed(_vmName, new VmError.VfioRefused(error)));

    private void PublishCoherencyIfChanged()
    {
        bool now = _attachments.NonCoherentDma;
        if (now == _nonCoherent) return;
        _nonCoherent = now;
        Context.Parent.Tell(new VmDmaCoherencyChanged(_vmName, now));
    }
}
