using Actorvisor.Hardware.Accel;
using Actorvisor.Hardware.Native;

namespace Actorvisor.Hardware.Vfio;

/// <summary>
/// The KVM-VFIO pseudo device of one VM (virt/kvm/vfio.c, Documentation/virt/kvm/devices/vfio.rst): the VFIO
/// groups and device files the VM's assigned devices come from, and whether any of them does non-coherent DMA.
/// On KVM it is the kernel's device; on the software accelerator the runtime serves the same contract with the
/// same rules. Adding takes a reference of the device's own, so the caller may close its descriptor afterwards;
/// deleting or disposing the device drops it. Thread-safe (kvm_vfio->lock).
/// </summary>
public interface IKvmVfioDevice : IDisposable
{
    /// <summary>The accelerator whose VM this device belongs to.</summary>
    AcceleratorKind Kind { get; }

    /// <summary>KVM_DEV_VFIO_FILE_ADD: attaches the VFIO group or device file <paramref name="file"/>.</summary>
    /// <exception cref="KvmVfioException">not a VFIO group or device (EINVAL), already attached (EEXIST), not open (EBADF).</exception>
    void AddFile(FileDescriptor file);

    /// <summary>KVM_DEV_VFIO_FILE_DEL: detaches the file <paramref name="file"/> refers to.</summary>
    /// <exception cref="KvmVfioException">not attached (ENOENT), not open (EBADF).</exception>
    void DeleteFile(FileDescriptor file);

    /// <summary>KVM_HAS_DEVICE_ATTR: whether the device implements attribute <paramref name="attribute"/> of <paramref name="group"/>.</summary>
    bool HasAttribute(uint group, ulong attribute);

    /// <summary>The attached files, in the order they were added.</summary>
    IReadOnlyList<KvmVfioFile> Files { get; }

    /// <summary>
    /// True while some attached file does not enforce DMA cache coherency (kv->noncoherent): recomputed from every
    /// file on each add, delete and release (kvm_vfio_update_coherency). On KVM the kernel keeps its own copy of
    /// this state, which user space cannot read; this one is computed with the same rule.
    /// </summary>
    bool NonCoherentDma { get; }
}
