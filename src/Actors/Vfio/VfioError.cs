namespace Actorvisor.Actors.Vfio;

/// <summary>Why a VFIO file could not be attached to or detached from a VM; each names the file.</summary>
public abstract record VfioError
{
    private VfioError() { }

    /// <summary>A person-readable explanation.</summary>
    public abstract string Message { get; }

    /// <summary><paramref name="Path"/> is not a usable path: <paramref name="Problem"/>.</summary>
    public sealed record InvalidPath(string Path, string Problem) : VfioError
    {
        /// <inheritdoc />
        public override string Message => $"VFIO file '{Path}': {Problem}";
    }

    /// <summary><paramref name="Path"/> could not be looked up or opened (<paramref name="ErrnoName"/>).</summary>
    public sealed record CannotOpen(string Path, string ErrnoName, string Detail) : VfioError
    {
        /// <inheritdoc />
        public override string Message => $"cannot open VFIO file '{Path}': {ErrnoName}: {Detail}";
    }

    /// <summary><paramref name="File"/> is not a VFIO group or device file (KVM_DEV_VFIO_FILE_ADD's EINVAL).</summary>
    public sealed record NotVfioFile(string File, string Detail) : VfioError
    {
        /// <inheritdoc />
        public override string Message => $"'{File}' is not a VFIO group or device file: {Detail}";
    }

    /// <summary><paramref name="File"/> is the same file as one attached as <paramref name="AttachedAs"/> (EEXIST).</summary>
    public sealed record AlreadyAttached(string File, string AttachedAs) : VfioError
    {
        /// <inheritdoc />
        public override string Message => File == AttachedAs
            ? $"'{File}' is already attached to this VM"
            : $"'{File}' is already attached to this VM as '{AttachedAs}'";
    }

    /// <summary><paramref name="File"/> is not attached (ENOENT); <paramref name="Attached"/> are.</summary>
    public sealed record NotAttached(string File, IReadOnlyList<string> Attached) : VfioError
    {
        /// <inheritdoc />
        public override string Message =>
            $"'{File}' is not attached to this VM (attached: {(Attached.Count == 0 ? "none" : string.Join(", ", Attached))})";
    }

    /// <summary>The KVM-VFIO device refused <paramref name="File"/> with <paramref name="ErrnoName"/>.</summary>
    public sealed record Refused(string File, string ErrnoName, string Detail) : VfioError
    {
        /// <inheritdoc />
        public override string Message => $"the KVM-VFIO device refused '{File}': {ErrnoName}: {Detail}";
    }

    /// <summary>The VM's KVM-VFIO device could not be created, or has been released.</summary>
    public sealed record DeviceUnavailable(string Detail) : VfioError
    {
        /// <inheritdoc />
        public override string Message => $"the VM's KVM-VFIO device is unavailable: {Detail}";
    }
}
