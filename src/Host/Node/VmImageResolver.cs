using Actorvisor.Actors.Vm;
using Actorvisor.Hardware.Guests;
using Actorvisor.Hardware.Accel;
using Actorvisor.Hardware.Cgroups;
using Actorvisor.Hardware.Images;
using Actorvisor.Hardware.Machines;
using Actorvisor.Hardware.Native;
using Actorvisor.Hardware.Snapshots;
using Actorvisor.Hardware.X86;
using Actorvisor.Host.Api.V1;

namespace Actorvisor.Host.Node;

/// <summary>
/// Turns an API <see cref="ApiVmSpec"/> into the actor runtime's <see cref="VmActorSpec"/> on this node:
/// a library guest by name, or an image file inside one of the node's image directories (a relative path
/// is taken from the first). Owns those directories as <see cref="ConfinedDirectory"/> roots: every
/// client-named file is opened once beneath one of them by the kernel's confined lookup (no '..' above it,
/// no symbolic link or /proc magic link out, regular files only) and then read through that descriptor only,
/// so an API client cannot load arbitrary host files into a guest. A spec's CPU limit becomes the VM's cgroup
/// (through the node's <see cref="CpuLimitCgroups"/>, where it has them).
/// </summary>
public sealed class VmImageResolver : IDisposable
{
    private readonly IReadOnlyList<ConfinedDirectory> _directories;
    private readonly string _nodeName;
    private readonly string? _vsockDirectory;
    private readonly CpuLimitCgroups? _cpuLimits;

    /// <summary>
    /// Opens <paramref name="imageDirectories"/> (the node's Node:ImageDirectories) for node <paramref name="nodeName"/>.
    /// VMs with a CPU limit get a cgroup of <paramref name="cpuLimits"/>; without it (the host has no cgroup v2 cpu
    /// controller, which the node reported at start) they run unlimited.
    /// </summary>
    /// <exception cref="NodeConfigException">a directory cannot be opened.</exception>
    public VmImageResolver(IReadOnlyList<string> imageDirectories, string nodeName, CpuLimitCgroups? cpuLimits = null, string? vsockDirectory = null)
    {
        if (vsockDirectory is not null) Directory.CreateDirectory(vsockDirectory);
        _vsockDirectory = vsockDirectory;
        var opened = new List<ConfinedDirectory>();
        foreach (var d in imageDirectories)
        {
            try
            {
                opened.Add(ConfinedDirectory.Open(d));
            }
            catch (SyscallException e)
            {
                foreach (var o in opened) o.Dispose();
                throw new NodeConfigException("Node:ImageDirectories", $"{d} cannot be opened as a directory: {e.Message}");
            }
        }
        _directories = opened;
        _nodeName = nodeName;
        _cpuLimits = cpuLimits;
    }

    /// <summary>The spec to create, or an error naming the field.</summary>
    public (VmActorSpec? Spec, ApiErrorReply? Error) Resolve(ApiVmSpec spec, IAccelerator accelerator)
    {
        var (vsock, vsockError) = Vsock(spec);
        if (vsockError is not null) return (null, vsockError);
        IBootableImage image;
        BootMode? requested = spec.BootMode switch
        {
            "real" => BootMode.Real,
            "protected" => BootMode.Protected,
            "long" => BootMode.Long,
            _ => null,
        };
        if (!GuestCatalog.IsPath(spec.Image))
        {
            if (!GuestCatalog.TryGet(spec.Image, out var guest))
                return (null, ApiErrorReply.Invalid("spec.image", $"'{spec.Image}' is not a library guest on node {_nodeName}"));
            image = guest;
        }
        else
        {
            var (file, error) = OpenFile(spec.Image, "spec.image");
            if (error is not null) return (null, error);
            var modules = new List<MultibootModule>();
            for (int i = 0; i < (spec.Modules?.Count ?? 0); i++)
            {
                var module = MultibootModule.Parse(spec.Modules![i]);
                var (moduleFile, moduleError) = OpenFile(module.Path, $"spec.modules[{i}]");
                if (moduleError is not null)
                {
                    file!.Dispose();
                    foreach (var m in modules) m.File?.Dispose();
                    return (null, moduleError);
                }
                modules.Add(module with { File = moduleFile });
            }
            try
            {
                image = BootableImageFile.Open(file!, requested, spec.Vcpus, FormatOf(spec.Format), spec.CommandLine, modules);
            }
            catch (ImageLoadException e)
            {
                foreach (var m in modules) m.File?.Dispose();
                return (null, ApiErrorReply.Invalid("spec.image", e.Message));
            }
        }
        var disks = new List<VirtioDiskSpec>();
        for (int i = 0; i < (spec.Disks?.Count ?? 0); i++)
        {
            var (disk, diskError) = Disk(spec.Disks![i], $"spec.disks[{i}]");
            if (diskError is not null)
            {
                (image as IDisposable)?.Dispose();
                return (null, diskError);
            }
            disks.Add(disk!);
        }
        var nets = new List<VirtioNetSpec>();
        for (int i = 0; i < (spec.Nets?.Count ?? 0); i++)
        {
            try { nets.Add(VirtioNetSpec.Parse(spec.Nets![i])); }
            catch (ArgumentException e)
            {
                (image as IDisposable)?.Dispose();
                return (null, ApiErrorReply.Invalid($"spec.nets[{i}]", e.Message));
            }
        }
        var machine = new MachineSpec { Image = image, MemoryBytes = spec.MemoryBytes, VcpuCount = spec.Vcpus, BootMode = requested, Disks = disks, Nets = nets, Vsock = vsock };
        try
        {
            machine.Validate();
        }
        catch (MachineSpecException e)
        {
            (image as IDisposable)?.Dispose();
            var field = e.ParamName switch
            {
                nameof(MachineSpec.MemoryBytes) => "spec.memoryBytes",
                nameof(MachineSpec.VcpuCount) => "spec.vcpus",
                nameof(MachineSpec.BootMode) => "spec.bootMode",
                nameof(MachineSpec.Disks) => "spec.disks",
                nameof(MachineSpec.Vsock) or "Vsock.GuestCid" or "Vsock.SocketPath" => "spec.vsockCid",
                nameof(MachineSpec.Nets) => "spec.nets",
                { } p when p.StartsWith(nameof(MachineSpec.Nets) + "[", StringComparison.Ordinal) => "spec.nets" + p[nameof(MachineSpec.Nets).Length..],
                _ => "spec.image",
            };
            return (null, ApiErrorReply.Invalid(field, e.Message));
        }
        return (MachineVm.Spec(spec.Name, accelerator, machine, vcpuThreads: CpuLimitGroup(spec.Name, spec.CpuLimit)), null);
    }

    /// <summary>The longest Unix socket path (sun_path holds 108 bytes with the terminating zero).</summary>
    public const int MaxSocketPath = 107;

    // The vsock device of spec.vsockCid: its socket is NAME.sock in the node's vsock directory.
    private (VirtioVsockSpec? Vsock, ApiErrorReply? Error) Vsock(ApiVmSpec spec)
    {
        if (spec.VsockCid is not { } cid) return (null, null);
        if (_vsockDirectory is null) return (null, ApiErrorReply.Invalid("spec.vsockCid", $"node {_nodeName} has no directory for vsock sockets"));
        var path = Path.Combine(_vsockDirectory, spec.Name + ".sock");
        // Room for the host-port suffix "_4294967295" of the sockets guest connections go to.
        if (path.Length + 11 > MaxSocketPath)
            return (null, ApiErrorReply.Invalid("spec.vsockCid", $"the socket path {path} is too long for a Unix socket with a port suffix ({MaxSocketPath} bytes); use a shorter VM name or data directory"));
        return (new VirtioVsockSpec { GuestCid = cid, SocketPath = path }, null);
    }

    /// <summary>
    /// What makes VM <paramref name="name"/>'s cgroup with CPU limit <paramref name="limit"/> when the VM is built (created
    /// or restored alike); null without a limit, or where the node has no cgroups (the VM then runs unlimited).
    /// </summary>
    public Func<IThreadGroup>? CpuLimitGroup(string name, double? limit)
    {
        var cpuLimits = _cpuLimits;
        return limit is { } l && cpuLimits is not null ? () => cpuLimits.Create(name, l) : null;
    }

    /// <summary>
    /// Opens the file a client named in request field <paramref name="field"/> ("spec.image", "spec.kernel",
    /// "spec.initrd", ...): a path relative to the first image directory, or an absolute path that starts with
    /// one of them (the rest is then looked up beneath that directory). The caller owns the returned file and
    /// reads it only through it; a refusal is an <see cref="ApiErrorCode.InvalidRequest"/> error naming the
    /// field, the path and the reason.
    /// </summary>
    public (ConfinedFile? File, ApiErrorReply? Error) OpenFile(string clientPath, string field)
    {
        var (root, relative, error) = Locate(clientPath, field);
        if (error is not null) return (null, error);
        try
        {
            return (root!.OpenFile(relative!), null);
        }
        catch (ConfinedPathException e)
        {
            return (null, ApiErrorReply.Invalid(field, $"'{clientPath}' is refused on node {_nodeName}: {e.Reason}"));
        }
    }

    /// <summary>
    /// A client's disk "FILE[,ro]" in request field <paramref name="field"/>: the image confined like
    /// <see cref="OpenFile"/>, checked now by opening it as the guest will (read-write unless ",ro"), and opened again
    /// beneath the same directory when the VM is built.
    /// </summary>
    public (VirtioDiskSpec? Disk, ApiErrorReply? Error) Disk(string clientDisk, string field)
    {
        VirtioDiskSpec parsed;
        try { parsed = VirtioDiskSpec.Parse(clientDisk); }
        catch (ArgumentException e) { return (null, ApiErrorReply.Invalid(field, e.Message)); }
        var (root, relative, error) = Locate(parsed.Path, field);
        if (error is not null) return (null, error);
        var disk = parsed with { Path = relative!, Directory = root };
        try
        {
            disk.Open().Dispose();
            return (disk, null);
        }
        catch (ConfinedPathException e)
        {
            return (null, ApiErrorReply.Invalid(field, $"'{parsed.Path}' is refused on node {_nodeName}: {e.Reason}"));
        }
    }

    /// <summary>
    /// Where a restore of snapshot <paramref name="snapshot"/> opens the disk images its <paramref name="manifest"/> names:
    /// each must be beneath one of the image directories, as a created VM's disks (a snapshot's manifest is a file on disk,
    /// and its paths are not the client's to choose), and open there as the guest will use it; else an error in request
    /// field <paramref name="field"/> naming the snapshot, the disk, its image and the setting. The placement opens each
    /// disk beneath the directory checked here, whatever path the manifest holds when the VM is built.
    /// </summary>
    public (SnapshotDiskPlacement? Placement, ApiErrorReply? Error) SnapshotDisks(SnapshotManifest manifest, string snapshot, string field)
    {
        ArgumentNullException.ThrowIfNull(manifest);
        var placed = new Dictionary<string, VirtioDiskSpec>(StringComparer.Ordinal);
        foreach (var disk in manifest.Disks ?? [])
        {
            var what = $"snapshot '{snapshot}' is refused: disk {disk.Device}'s image";
            var (root, relative, error) = Locate(disk.Path, field);
            if (error is not null)
                return (null, ApiErrorReply.Invalid(field, $"{what} {error.Message}; a restore opens disk images only inside the image directories (Node:ImageDirectories), as --disk does"));
            var spec = new VirtioDiskSpec { Path = relative!, ReadOnly = disk.ReadOnly, Directory = root };
            try
            {
                spec.Open().Dispose();
            }
            catch (ConfinedPathException e)
            {
                return (null, ApiErrorReply.Invalid(field, $"{what} '{disk.Path}' cannot be opened on node {_nodeName}: {e.Reason}"));
            }
            placed[disk.Device] = spec;
        }
        return (disk => placed.TryGetValue(disk.Device, out var spec) ? spec
            : throw new SnapshotException(disk.Path, $"disk {disk.Device} was not among the disks checked when the restore was asked for (the manifest changed since)"), null);
    }

    // Which image directory a client path is beneath, and the path relative to it.
    private (ConfinedDirectory? Root, string? Relative, ApiErrorReply? Error) Locate(string clientPath, string field)
    {
        ArgumentNullException.ThrowIfNull(clientPath);
        if (_directories.Count == 0)
            return (null, null, ApiErrorReply.Invalid(field, $"node {_nodeName} has no image directories configured (Node:ImageDirectories)"));
        ConfinedDirectory root = _directories[0];
        string relative = clientPath;
        if (clientPath.StartsWith('/'))
        {
            // Matched as written, not normalised: '..' in the rest is the kernel's to refuse.
            var match = _directories.FirstOrDefault(d => clientPath.StartsWith(d.Root + "/", StringComparison.Ordinal));
            if (match is null)
                return (null, null, ApiErrorReply.Invalid(field, $"'{clientPath}' is outside node {_nodeName}'s image directories ({string.Join(", ", _directories)})"));
            root = match;
            relative = clientPath[(match.Root.Length + 1)..];
        }
        return (root, relative, null);
    }

    /// <summary>Closes the image directories.</summary>
    public void Dispose()
    {
        foreach (var d in _directories) d.Dispose();
    }

    private static ImageFormat? FormatOf(string? format) => format switch
    {
        "flat" => ImageFormat.Flat,
        "elf" => ImageFormat.Elf,
        "bootsector" => ImageFormat.BootSector,
        "multiboot" => ImageFormat.Multiboot,
        _ => null,
    };
}
