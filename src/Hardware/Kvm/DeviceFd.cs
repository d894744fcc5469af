using Actorvisor.Hardware.Kvm.Abi;
using Actorvisor.Hardware.Native;

namespace Actorvisor.Hardware.Kvm;

/// <summary>An in-kernel device created with KVM_CREATE_DEVICE: device ioctls (Documentation/virt/kvm/devices).</summary>
public sealed unsafe class DeviceFd : IDisposable
{
    private readonly FileDescriptor _fd;

    internal DeviceFd(FileDescriptor fd, KvmDeviceType type)
    {
        _fd = fd;
        Type = type;
    }

    /// <summary>The device type.</summary>
    public KvmDeviceType Type { get; }

    /// <summary>The owned descriptor.</summary>
    public FileDescriptor Descriptor => _fd;

    /// <summary>KVM_SET_DEVICE_ATTR: sets attribute (<c>group</c>, <c>attr</c>) from the value at <c>addr</c>.</summary>
    public void SetDeviceAttr(in KvmDeviceAttr attr)
    {
        var a = attr;
        Sys.Ioctl(_fd, KvmIoctls.SetDeviceAttr, &a, $"KVM_SET_DEVICE_ATTR({Type}, group {a.Group}, attr {a.Attr})");
    }

    /// <summary>KVM_SET_DEVICE_ATTR with a 32-bit value (e.g. a file descriptor for KVM_DEV_VFIO_FILE_ADD).</summary>
    public void SetDeviceAttr(uint group, ulong attribute, int value)
    {
        // Safe: the value lives on this stack frame for the duration of the ioctl, which only reads it.
        int v = value;
        SetDeviceAttr(new KvmDeviceAttr { Group = group, Attr = attribute, Addr = (ulong)&v });
    }

    /// <summary>KVM_GET_DEVICE_ATTR: the kernel writes the attribute's value to <c>addr</c>.</summary>
    public void GetDeviceAttr(in KvmDeviceAttr attr)
    {
        var a = attr;
        Sys.Ioctl(_fd, KvmIoctls.GetDeviceAttr, &a, $"KVM_GET_DEVICE_ATTR({Type}, group {a.Group}, attr {a.Attr})");
    }

    /// <summary>KVM_GET_DEVICE_ATTR of a 64-bit attribute.</summary>
    public ulong GetDeviceAttr(uint group, ulong attribute)
    {
        // Safe: the kernel writes at most the attribute's size (8 bytes here) into this stack slot.
        ulong value = 0;
        GetDeviceAttr(new KvmDeviceAttr { Group = group, Attr = attribute, Addr = (ulong)&value });
        return value;
    }

    /// <summary>KVM_HAS_DEVICE_ATTR: whether the device implements (<paramref name="group"/>, <paramref name="attribute"/>); ENXIO means no.</summary>
    public bool HasDeviceAttr(uint group, ulong attribute)
    {
        var a = new KvmDeviceAttr { Group = group, Attr = attribute };
        int r = Sys.TryIoctl(_fd, KvmIoctls.HasDeviceAttr, &a, out int err);
        if (r >= 0) return true;
        if (err == Errnos.ENXIO) return false;
        throw new SyscallException($"ioctl(KVM_HAS_DEVICE_ATTR({Type}, group {group}, attr {attribute}))", err, _fd.What);
    }

    /// <summary>Closes the device fd (the kernel releases the device with the VM).</summary>
    public void Dispose() => _fd.Dispose();
}
