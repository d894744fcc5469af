using Actorvisor.Hardware.Native;
using Actorvisor.Hardware.Vfio;
using static Tmds.Linux.LibC;

namespace Actorvisor.Actors.Vfio;

/// <summary>
/// The VFIO files of one VM, the state of its <see cref="KvmVfioDeviceActor"/> (kvm_vfio->file_list; the actor's
/// mailbox is kvm_vfio->lock): each file's descriptor, owned here, and the KVM-VFIO device they are attached to,
/// created on first use. Refuses files that are not VFIO groups or device files and the same file twice (the same
/// inode, however it was reached) with a <see cref="VfioError"/>. Released once, closing the device and every file.
/// Not thread-safe: one owner at a time (the VmActor while building the VM, then the actor, then the teardown).
/// </summary>
public sealed class VfioAttachments : IDisposable
{
    private readonly Func<IKvmVfioDevice> _createDevice;
    private readonly List<Attached> _files = [];
    private IKvmVfioDevice? _device;
    private bool _released;

    /// <summary>Attachments whose KVM-VFIO device <paramref name="createDevice"/> creates when the first file comes.</summary>
    public VfioAttachments(Func<IKvmVfioDevice> createDevice) =>
        _createDevice = createDevice ?? throw new ArgumentNullException(nameof(createDevice));

    /// <summary>The attached files, in attach order.</summary>
    public IReadOnlyList<VfioFileInfo> Files => _device?.Files.Select(VfioFileInfo.From).ToList() ?? [];

    /// <summary>True while some attached file's DMA is not cache coherent (recomputed by the device on every change).</summary>
    public bool NonCoherentDma => _device?.NonCoherentDma ?? false;

    /// <summary>True once released.</summary>
    public bool IsReleased => _released;

    /// <summary>Opens <paramref name="path"/> read-write and attaches it; null on success.</summary>
    public VfioError? Attach(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (_released) return Released();
        if (path.Length == 0 || path[0] != '/') return new VfioError.InvalidPath(path, "must be an absolute path, e.g. /dev/vfio/12");
        FileStatus status;
        try { status = FileStatus.OfPath(path); }
        catch (SyscallException e) { return new VfioError.CannotOpen(path, e.ErrnoName, Errnos.Describe(e.Errno)); }
        // Before opening: a VFIO group can be open only once, so a second open would fail with EBUSY instead of
        // saying what is wrong.
        if (FindInode(status) is { } existing) return new VfioError.AlreadyAttached(path, existing.Name);
        FileDescriptor file;
        try { file = Sys.Open(path, O_RDWR); }
        catch (SyscallException e) { return new VfioError.CannotOpen(path, e.ErrnoName, Errnos.Describe(e.Errno)); }
        return AttachOpened(file, path, status);
    }

    /// <summary>Attaches the open file <paramref name="file"/> as <paramref name="name"/>; takes ownership of the descriptor (closed if refused). Null on success.</summary>
    public VfioError? Attach(FileDescriptor file, string name)
    {
        ArgumentNullException.ThrowIfNull(file);
        ArgumentNullException.ThrowIfNull(name);
        if (_released)
        {
            file.Dispose();
            return Released();
        }
        FileStatus status;
        try { status = FileStatus.Of(file); }
        catch (SyscallException e)
        {
            file.Dispose();
            return new VfioError.Refused(name, e.ErrnoName, "the descriptor is not open");
        }
        if (FindInode(status) is { } existing)
        {
            file.Dispose();
            return new VfioError.AlreadyAttached(name, existing.Name);
        }
        if (_files.Any(f => f.Name == name))
        {
            file.Dispose();
            return new VfioError.InvalidPath(name, "another file is already attached under this name");
        }
        return AttachOpened(file, name, status);
    }

    /// <summary>Detaches and closes the file attached as <paramref name="name"/> (or, failing that, the file at that path); null on success.</summary>
    public VfioError? Detach(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (_released) return Released();
        var entry = _files.FirstOrDefault(f => f.Name == name) ?? FindPath(name);
        if (entry is null || _device is null) return new VfioError.NotAttached(name, _files.Select(f => f.Name).ToList());
        try
        {
            _device.DeleteFile(entry.File);
        }
        catch (KvmVfioException e)
        {
            return e.Failure == KvmVfioFailure.NotAttached
                ? new VfioError.NotAttached(name, _files.Select(f => f.Name).ToList())
                : new VfioError.Refused(name, e.ErrnoName, e.Detail);
        }
        _files.Remove(entry);
        entry.File.Dispose();
        return null;
    }

    /// <summary>
    /// Releases the device (the kernel's kvm_vfio_release drops its references) and closes every file. Idempotent;
    /// returns the names released by this call.
    /// </summary>
    public IReadOnlyList<string> Release()
    {
        if (_released) return [];
        _released = true;
        var names = _files.Select(f => f.Name).ToList();
        try
        {
            _device?.Dispose();
        }
        finally
        {
            foreach (var f in _files) f.File.Dispose();
            _files.Clear();
        }
        return names;
    }

    /// <summary>Same as <see cref="Release"/>.</summary>
    public void Dispose() => Release();

    private VfioError? AttachOpened(FileDescriptor file, string name, FileStatus status)
    {
        try
        {
            _device ??= _createDevice();
        }
        catch (KvmVfioException e)
        {
            file.Dispose();
            return new VfioError.DeviceUnavailable(e.Message);
        }
        try
        {
            _device.AddFile(file);
        }
        catch (KvmVfioException e)
        {
            file.Dispose();
            return e.Failure switch
            {
                KvmVfioFailure.NotVfioFile => new VfioError.NotVfioFile(name, e.Detail),
                KvmVfioFailure.AlreadyAttached => new VfioError.AlreadyAttached(name, name),
                _ => new VfioError.Refused(name, e.ErrnoName, e.Detail),
            };
        }
        _files.Add(new Attached(name, file, status));
        return null;
    }

    private Attached? FindInode(FileStatus status) => _files.FirstOrDefault(f => f.Status.IsSameInode(status));

    private Attached? FindPath(string path)
    {
        if (path.Length == 0 || path[0] != '/') return null;
        try { return FindInode(FileStatus.OfPath(path)); }
        catch (SyscallException) { return null; }
    }

    private static VfioError Released() => new VfioError.DeviceUnavailable("the VM's KVM-VFIO device has been released");

    private sealed record Attached(string Name, FileDescriptor File, FileStatus Status);
}
