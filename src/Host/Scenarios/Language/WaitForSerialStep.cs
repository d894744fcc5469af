using System.Text.RegularExpressions;

namespace Actorvisor.Host.Scenarios.Language;

/// <summary>
/// <c>wait-for-serial</c>: waits until the VM's serial output, after what earlier waits on the same VM
/// consumed, contains <see cref="Text"/> or matches <see cref="Pattern"/>.
/// </summary>
/// <param name="Location">Where it was written.</param>
/// <param name="Vm">The VM.</param>
/// <param name="Text">Literal text to find (exactly one of Text and Pattern is set).</param>
/// <param name="Pattern">A .NET regular expression to match.</param>
public sealed record WaitForSerialStep(SourceLocation Location, string Vm, string? Text, Regex? Pattern) : Step(Location)
{
    /// <inheritdoc />
    public override string Keyword => "wait-for-serial";

    /// <inheritdoc />
    public override string Describe() => Text is not null
        ? $"wait for \"{Escape(Text)}\" on {Vm}'s serial"
        : $"wait for /{Pattern}/ on {Vm}'s serial";

    private static string Escape(string s) => s.Replace("\n", "\\n").Replace("\r", "\\r");
}
