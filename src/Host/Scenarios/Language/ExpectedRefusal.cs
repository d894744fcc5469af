namespace Actorvisor.Host.Scenarios.Language;

/// <summary>
/// The refusal a VFIO step expects: of error kind <paramref name="Kind"/> and/or with a message containing
/// <paramref name="Text"/> (case-insensitive); at least one is given.
/// </summary>
/// <param name="Kind">The error kind, or null for any.</param>
/// <param name="Text">Text the message must contain, or null for any.</param>
public sealed record ExpectedRefusal(VfioErrorKind? Kind, string? Text)
{
    /// <summary>True if a refusal of kind <paramref name="kind"/> (a YAML name, null if unknown) with <paramref name="message"/> matches.</summary>
    public bool Matches(string? kind, string message) =>
        (Kind is null || Kind.Value.YamlName() == kind) && (Text is null || message.Contains(Text, StringComparison.OrdinalIgnoreCase));

    /// <inheritdoc />
    public override string ToString() =>
        "a refusal" + (Kind is { } k ? $" of kind {k.YamlName()}" : "") + (Text is null ? "" : $" containing \"{Text}\"");
}
