namespace Actorvisor.Host.Node;

/// <summary>
/// One line of the node's host check: what was checked (<see cref="Name"/>), whether the node has it, what was seen
/// or how to grant it (<see cref="Text"/>), and whether the configuration needs it (a required check that is
/// missing stops the node; an optional one only disables a feature).
/// </summary>
public sealed record HostCheck(string Name, bool Ok, bool Required, string Text)
{
    /// <summary>True when the node cannot run its configuration without this.</summary>
    public bool Fatal => !Ok && Required;

    /// <summary>The line `--check-config` prints: "name: ok: ...", "name: missing: ..." (required) or "name: missing (optional): ...".</summary>
    public override string ToString() => $"{Name}: {(Ok ? "ok" : Required ? "missing" : "missing (optional)")}: {Text}";
}
