using Actorvisor.Hardware.Accel;
using Actorvisor.Hardware.Kvm;
using Actorvisor.Hardware.Native;

namespace Actorvisor.Hardware.Vfio;

/// <summary>
/// The kernel's KVM-VFIO device (KVM_CREATE_DEVICE(KVM_DEV_TYPE_VFIO)): files are attached with
/// KVM_SET_DEVICE_ATTR(KVM_DEV_VFIO_FILE, KVM_DEV_VFIO_FILE_ADD/DEL) and the kernel's refusals come back as
/// <see cref="KvmVfioException"/> carrying its errno. The device also keeps a reference of its own to each
/// attached file, to list the files and to compute the non-coherent flag the kernel keeps to itself. Disposing
/// closes the device fd; the kernel then releases every file (kvm_vfio_release).
/// </summary>
public sealed class KernelKvmVfioDevice : IKvmVfioDevice
{
    private readonly object _lock = new();
    private readonly DeviceFd _device;
    private readonly IVfioFileInspector _inspector;
    private readonly KvmVfioFileList _files;
    private bool _disposed;

    /// <summary>Wraps <paramref name="device"/>, which must be a KVM-VFIO device; it is owned from now on.</summary>
    public KernelKvmVfioDevice(DeviceFd device, IVfioFileInspector inspector)
    {
        ArgumentNullException.ThrowIfNull(device);
        if (device.Type != KvmDeviceType.Vfio) throw new ArgumentException($"a {device.Type} device is not a KVM-VFIO device", nameof(device));
        _device = device;
        _inspector = inspector ?? throw new ArgumentNullException(nameof(inspector));
        _files = new KvmVfioFileList(inspector);
    }

    /// <summary>The kernel device.</summary>
    public DeviceFd Device => _device;

    /// <inheritdoc />
    public AcceleratorKind Kind => AcceleratorKind.Kvm;

    /// <inheritdoc />
    public IReadOnlyList<KvmVfioFile> Files => _files.Files;

    /// <inheritdoc />
    public bool NonCoherentDma => _files.NonCoherentDma;

    /// <inheritdoc />
    public void AddFile(FileDescriptor file)
    {
        ArgumentNullException.ThrowIfNull(file);
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            SetFileAttribute(KvmVfioAttributes.FileAdd, "KVM_DEV_VFIO_FILE_ADD", file);
            FileDescriptor held;
            try { held = OpenFileDescription.Duplicate(file, file.What); }
            catch
            {
                // The kernel holds the file but this device could not: take it back out, so both agree.
                TryDelete(file);
                throw;
            }
            _files.Add(held, file.What, _inspector.Classify(held));
        }
    }

    /// <inheritdoc />
    public void DeleteFile(FileDescriptor file)
    {
        ArgumentNullException.ThrowIfNull(file);
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            SetFileAttribute(KvmVfioAttributes.FileDel, "KVM_DEV_VFIO_FILE_DEL", file);
            _files.Remove(file);
        }
    }

    /// <inheritdoc />
    public bool HasAttribute(uint group, ulong attribute)
    {
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            return _device.HasDeviceAttr(group, attribute);
        }
    }

    /// <summary>Closes the device fd (the kernel releases its files) and drops this device's own references.</summary>
    public void Dispose()
    {
        lock (_lock)
        {
            if (_disposed) return;
            _disposed = true;
            _device.Dispose();
            _files.Dispose();
        }
    }

    private void SetFileAttribute(ulong attribute, string op, FileDescriptor file)
    {
        // A closed handle has no number to pass; the kernel would answer EBADF for it, so does this.
        int fd = file.IsClosed ? -1 : file.Fd;
        try
        {
            _device.SetDeviceAttr(KvmVfioAttributes.GroupFile, attribute, fd);
        }
        catch (SyscallException e)
        {
            var failure = KvmVfioFailures.FromErrno(e.Errno);
            throw new KvmVfioException(op, SoftKvmVfioDevice.DescriptorName(file), failure, e.Errno, Explain(failure, file, e), e);
        }
    }

    // The kernel's errno with what it means in vfio.c; for EINVAL also what the file is, as far as user space can tell.
    private string Explain(KvmVfioFailure failure, FileDescriptor file, SyscallException e) => failure switch
    {
        KvmVfioFailure.NotVfioFile => $"the kernel refused the file as not a VFIO group or device (vfio_file_is_valid): {Describe(file)}",
        KvmVfioFailure.AlreadyAttached => "the kernel already has this file attached",
        KvmVfioFailure.NotAttached => "the kernel has no such file attached",
        KvmVfioFailure.BadDescriptor => "the descriptor is not open",
        _ => e.Message,
    };

    private string Describe(FileDescriptor file)
    {
        try { return _inspector.Classify(file).Description; }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException) { return "(could not be inspected)"; }
    }

    private void TryDelete(FileDescriptor file)
    {
        try { _device.SetDeviceAttr(KvmVfioAttributes.GroupFile, KvmVfioAttributes.FileDel, file.Fd); }
        catch (SyscallException) { }
    }
}
