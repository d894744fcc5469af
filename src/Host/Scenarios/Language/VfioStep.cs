namespace Actorvisor.Host.Scenarios.Language;

/// <summary><c>attach-vfio</c> or <c>detach-vfio</c>: attaches a VFIO file to a VM, or detaches one, by path.</summary>
/// <param name="Location">Where it was written.</param>
/// <param name="Action">Attach or detach.</param>
/// <param name="Vm">The VM.</param>
/// <param name="Path">The file's absolute path (e.g. /dev/vfio/12); detach names the file as it was attached.</param>
/// <param name="ExpectError">When set, the request must be refused this way.</param>
public sealed record VfioStep(SourceLocation Location, VfioAction Action, string Vm, string Path, ExpectedRefusal? ExpectError) : Step(Location)
{
    /// <inheritdoc />
    public override string Keyword => Action == VfioAction.Attach ? "attach-vfio" : "detach-vfio";

    /// <inheritdoc />
    public override string Describe() =>
        $"{(Action == VfioAction.Attach ? "attach" : "detach")} VFIO file {Path} {(Action == VfioAction.Attach ? "to" : "from")} {Vm}"
        + (ExpectError is null ? "" : $" (expect {ExpectError})");
}
