using Actorvisor.Hardware.Native;

namespace Actorvisor.Hardware.Vfio;

/// <summary>
/// The production answers: <see cref="VfioFileClassifier"/> on statx and a fresh read of /proc/devices, and
/// <see cref="VfioCoherencyProbe"/>.
/// </summary>
public sealed class VfioFileInspector : IVfioFileInspector
{
    /// <summary>The one instance (it holds no state).</summary>
    public static readonly VfioFileInspector Instance = new();

    private VfioFileInspector() { }

    /// <inheritdoc />
    public VfioFileClassification Classify(FileDescriptor file)
    {
        ArgumentNullException.ThrowIfNull(file);
        return VfioFileClassifier.Classify(FileStatus.Of(file), ProcDevices.Read());
    }

    /// <inheritdoc />
    public DmaCoherency ProbeCoherency(FileDescriptor file, VfioFileKind kind) => VfioCoherencyProbe.Probe(file, kind);
}
