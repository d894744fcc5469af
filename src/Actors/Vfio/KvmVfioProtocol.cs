using Actorvisor.Actors.Vm;
using Actorvisor.Hardware.Native;
using Actorvisor.Hardware.Vfio;

namespace Actorvisor.Actors.Vfio;

// Requests accepted by the VmActor and passed to its KvmVfioDeviceActor, which answers the original sender with
// a success record or VmRequestFailed carrying VmError.VfioRefused. Refused with VmError.NotAccepting once the VM
// is stopping.

/// <summary>
/// Attaches a VFIO group or device file to the VM's KVM-VFIO device (KVM_DEV_VFIO_FILE_ADD). Replies
/// <see cref="VfioFileAttached"/>. Built with <see cref="ByPath"/> (the VM opens the path) or
/// <see cref="ByDescriptor"/> (the message carries a duplicate of the caller's descriptor, taken at once, so the
/// caller may close its own; a request refused before it reaches the device leaves the duplicate to the
/// finalizer).
/// </summary>
public sealed class AttachVfioFile : IVmRequest
{
    private AttachVfioFile(string name, FileDescriptor? descriptor)
    {
        Name = name;
        Descriptor = descriptor;
    }

    /// <summary>The path to open, or the name of <see cref="Descriptor"/>; the file is listed and detached by it.</summary>
    public string Name { get; }

    /// <summary>The file to attach when given as a descriptor; null to open <see cref="Name"/>.</summary>
    public FileDescriptor? Descriptor { get; }

    /// <summary>Attach the file at <paramref name="path"/> (opened read-write by the VM), e.g. "/dev/vfio/12".</summary>
    public static AttachVfioFile ByPath(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        return new(path, null);
    }

    /// <summary>Attach the open file <paramref name="file"/>, listed as <paramref name="name"/> (default: its descriptor's name).</summary>
    /// <exception cref="SyscallException">the descriptor is not open (EBADF).</exception>
    public static AttachVfioFile ByDescriptor(FileDescriptor file, string? name = null)
    {
        ArgumentNullException.ThrowIfNull(file);
        var label = name ?? file.What;
        return new(label, OpenFileDescription.Duplicate(file, label));
    }
}

/// <summary>Detaches the file attached as <paramref name="Name"/> (KVM_DEV_VFIO_FILE_DEL) and closes it. Replies <see cref="VfioFileDetached"/>.</summary>
public sealed record DetachVfioFile(string Name) : IVmRequest;

/// <summary>Lists the attached VFIO files. Replies <see cref="VfioFileList"/>.</summary>
public sealed record ListVfioFiles : IVmRequest
{
    /// <summary>The one instance.</summary>
    public static readonly ListVfioFiles Instance = new();
}

/// <summary><paramref name="File"/> is attached; the VM does non-coherent DMA if <paramref name="NonCoherentDma"/>.</summary>
public sealed record VfioFileAttached(string VmName, VfioFileInfo File, bool NonCoherentDma);

/// <summary><paramref name="Name"/> is detached and closed; the VM does non-coherent DMA if <paramref name="NonCoherentDma"/>.</summary>
public sealed record VfioFileDetached(string VmName, string Name, bool NonCoherentDma);

/// <summary>The attached files, in attach order, and the VM's non-coherent DMA state.</summary>
public sealed record VfioFileList(string VmName, IReadOnlyList<VfioFileInfo> Files, bool NonCoherentDma);

/// <summary>
/// The VM's non-coherent DMA state changed: true while some attached file's DMA is not cache coherent
/// (kvm_arch_register_noncoherent_dma / unregister). Published like every <see cref="VmEvent"/>.
/// </summary>
public sealed record VmDmaCoherencyChanged(string VmName, bool NonCoherentDma) : VmEvent(VmName);

/// <summary>The KVM-VFIO device and every file in <paramref name="Files"/> were released (teardown's release-devices step).</summary>
public sealed record VmVfioFilesReleased(string VmName, IReadOnlyList<string> Files) : VmEvent(VmName);
