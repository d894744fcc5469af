namespace Actorvisor.Host.Scenarios.Language;

/// <summary>Why a VM refuses to attach or detach a VFIO file, as a scenario's <c>expect-error</c> names it.</summary>
public enum VfioErrorKind
{
    /// <summary>The path is not usable (not absolute).</summary>
    InvalidPath,
    /// <summary>The file could not be looked up or opened (ENOENT, EACCES, ...).</summary>
    CannotOpen,
    /// <summary>The file is not a VFIO group or device file (/dev/null, a regular file).</summary>
    NotVfioFile,
    /// <summary>The same file is already attached to the VM, under this name or another.</summary>
    AlreadyAttached,
    /// <summary>Detach of a file that is not attached.</summary>
    NotAttached,
    /// <summary>The KVM-VFIO device refused the file with some other errno.</summary>
    Refused,
    /// <summary>The VM's KVM-VFIO device could not be created or has been released.</summary>
    DeviceUnavailable,
    /// <summary>The VM is stopping or has ended and accepts no requests.</summary>
    NotAccepting,
}

/// <summary>YAML names of <see cref="VfioErrorKind"/>.</summary>
public static class VfioErrorKinds
{
    /// <summary>"not-vfio-file", "not-attached", ...: the kind's name in kebab case.</summary>
    public static string YamlName(this VfioErrorKind kind) => Kebab(kind.ToString());

    /// <summary>Every kind by its YAML name.</summary>
    public static IReadOnlyDictionary<string, VfioErrorKind> ByName { get; } =
        Enum.GetValues<VfioErrorKind>().ToDictionary(k => k.YamlName());

    /// <summary>"NotVfioFile" as "not-vfio-file".</summary>
    public static string Kebab(string pascalCase) =>
        string.Concat(pascalCase.Select((c, i) => char.IsUpper(c) ? (i > 0 ? "-" : "") + char.ToLowerInvariant(c) : c.ToString()));
}
