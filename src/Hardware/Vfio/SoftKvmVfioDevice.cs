using Actorvisor.Hardware.Accel;
using Actorvisor.Hardware.Native;

namespace Actorvisor.Hardware.Vfio;

/// <summary>
/// The KVM-VFIO device served by the runtime, for VMs of the software accelerator: the rules of virt/kvm/vfio.c
/// applied in user space. Add takes a reference (fget -> a duplicate descriptor), refuses a descriptor that is not
/// open (EBADF), a file that is not a VFIO group or device (EINVAL) and a file already attached (EEXIST); delete
/// refuses a file that is not attached (ENOENT); the non-coherent flag is recomputed on every change; disposing
/// the device releases every file. One per VM, as on KVM (see <see cref="KvmVfioDevices"/>).
/// </summary>
public sealed class SoftKvmVfioDevice : IKvmVfioDevice
{
    private readonly object _lock = new(); // kvm_vfio->lock
    private readonly IVfioFileInspector _inspector;
    private readonly KvmVfioFileList _files;
    private readonly Action? _onDispose;
    private bool _disposed;

    /// <summary>A device that answers the VFIO questions with <paramref name="inspector"/>; <paramref name="onDispose"/> runs once when it is disposed.</summary>
    public SoftKvmVfioDevice(IVfioFileInspector inspector, Action? onDispose = null)
    {
        _inspector = inspector ?? throw new ArgumentNullException(nameof(inspector));
        _files = new KvmVfioFileList(inspector);
        _onDispose = onDispose;
    }

    /// <inheritdoc />
    public AcceleratorKind Kind => AcceleratorKind.Software;

    /// <inheritdoc />
    public IReadOnlyList<KvmVfioFile> Files => _files.Files;

    /// <inheritdoc />
    public bool NonCoherentDma => _files.NonCoherentDma;

    /// <inheritdoc />
    public void AddFile(FileDescriptor file)
    {
        ArgumentNullException.ThrowIfNull(file);
        const string op = "KVM_DEV_VFIO_FILE_ADD";
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            // kvm_vfio_file_add: fget (EBADF), vfio_file_is_valid (EINVAL), then the list (EEXIST).
            var held = Reference(file, op);
            try
            {
                var classification = _inspector.Classify(held);
                if (!classification.IsValidForKvm)
                    throw Refused(op, file, KvmVfioFailure.NotVfioFile, $"{classification.Description}; the KVM-VFIO device takes VFIO groups (/dev/vfio/N) and device files (/dev/vfio/devices/vfioN)");
                if (_files.Contains(held))
                    throw Refused(op, file, KvmVfioFailure.AlreadyAttached, "this file is already attached to the VM's KVM-VFIO device");
                _files.Add(held, file.What, classification);
            }
            catch
            {
                held.Dispose();
                throw;
            }
        }
    }

    /// <inheritdoc />
    public void DeleteFile(FileDescriptor file)
    {
        ArgumentNullException.ThrowIfNull(file);
        const string op = "KVM_DEV_VFIO_FILE_DEL";
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (!OpenFileDescription.IsOpen(file)) throw Refused(op, file, KvmVfioFailure.BadDescriptor, "the descriptor is not open");
            if (!_files.Remove(file)) throw Refused(op, file, KvmVfioFailure.NotAttached, "this file is not attached to the VM's KVM-VFIO device");
        }
    }

    /// <inheritdoc />
    public bool HasAttribute(uint group, ulong attribute) => KvmVfioDevices.Implements(group, attribute);

    /// <summary>Releases every attached file (kvm_vfio_release).</summary>
    public void Dispose()
    {
        lock (_lock)
        {
            if (_disposed) return;
            _disposed = true;
            _files.Dispose();
        }
        _onDispose?.Invoke();
    }

    private static FileDescriptor Reference(FileDescriptor file, string op)
    {
        if (!OpenFileDescription.IsOpen(file)) throw Refused(op, file, KvmVfioFailure.BadDescriptor, "the descriptor is not open");
        try { return OpenFileDescription.Duplicate(file, file.What); }
        catch (SyscallException e) { throw new KvmVfioException(op, file.What, KvmVfioFailures.FromErrno(e.Errno), e.Errno, e.Message, e); }
    }

    private static KvmVfioException Refused(string op, FileDescriptor file, KvmVfioFailure failure, string detail) =>
        new(op, DescriptorName(file), failure, failure.Errno(), detail);

    internal static string DescriptorName(FileDescriptor file) => file.IsClosed ? $"{file.What} (closed)" : file.What;
}
