using Actorvisor.Hardware.Native;

namespace Actorvisor.Hardware.Vfio;

/// <summary>Why the KVM-VFIO device refused a request; each matches the errno virt/kvm/vfio.c returns.</summary>
public enum KvmVfioFailure
{
    /// <summary>EINVAL from KVM_DEV_VFIO_FILE_ADD: the file is not a VFIO group or device (vfio_file_is_valid).</summary>
    NotVfioFile,
    /// <summary>EEXIST: the same file is already attached.</summary>
    AlreadyAttached,
    /// <summary>ENOENT from KVM_DEV_VFIO_FILE_DEL: the file is not attached.</summary>
    NotAttached,
    /// <summary>EBADF: the descriptor is not open.</summary>
    BadDescriptor,
    /// <summary>EBUSY from KVM_CREATE_DEVICE: the VM already has a KVM-VFIO device (kvm_vfio_create allows one).</summary>
    DeviceExists,
    /// <summary>ENXIO: no such attribute group or attribute.</summary>
    NoSuchAttribute,
    /// <summary>Any other errno.</summary>
    Other,
}

/// <summary>The errno of each <see cref="KvmVfioFailure"/>.</summary>
public static class KvmVfioFailures
{
    /// <summary>The failure the kernel means by <paramref name="errno"/> in a KVM-VFIO request.</summary>
    public static KvmVfioFailure FromErrno(int errno) => errno switch
    {
        Errnos.EINVAL => KvmVfioFailure.NotVfioFile,
        Errnos.EEXIST => KvmVfioFailure.AlreadyAttached,
        Errnos.ENOENT => KvmVfioFailure.NotAttached,
        Errnos.EBADF => KvmVfioFailure.BadDescriptor,
        16 => KvmVfioFailure.DeviceExists, // EBUSY
        Errnos.ENXIO => KvmVfioFailure.NoSuchAttribute,
        _ => KvmVfioFailure.Other,
    };

    /// <summary>The errno the kernel returns for <paramref name="failure"/>.</summary>
    public static int Errno(this KvmVfioFailure failure) => failure switch
    {
        KvmVfioFailure.NotVfioFile => Errnos.EINVAL,
        KvmVfioFailure.AlreadyAttached => Errnos.EEXIST,
        KvmVfioFailure.NotAttached => Errnos.ENOENT,
        KvmVfioFailure.BadDescriptor => Errnos.EBADF,
        KvmVfioFailure.DeviceExists => 16,
        KvmVfioFailure.NoSuchAttribute => Errnos.ENXIO,
        _ => 0,
    };
}
