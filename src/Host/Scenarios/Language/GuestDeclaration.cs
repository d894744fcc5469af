using Actorvisor.Hardware.Guests;

namespace Actorvisor.Host.Scenarios.Language;

/// <summary>A library guest and its parameters, as written in a VM declaration (<c>guest: hello</c> or <c>guest: {name: memory-writer, pages: 16}</c>).</summary>
/// <param name="Name">The guest's name in <see cref="GuestCatalog"/>.</param>
/// <param name="Parameters">Parameter values by name (every parameter the guest has, defaults filled in).</param>
/// <param name="Location">Where it was written.</param>
public sealed record GuestDeclaration(string Name, IReadOnlyDictionary<string, int> Parameters, SourceLocation Location)
{
    /// <summary>Assembles the guest.</summary>
    public GuestImage Build() => GuestCatalog.Find(Name)!.Build(Parameters);

    /// <summary>The parameters set to something other than their default, by name.</summary>
    public IReadOnlyList<string> NonDefaultParameters =>
        [.. GuestCatalog.Find(Name)!.Parameters.Where(p => Parameters.TryGetValue(p.Name, out var v) && v != p.Default).Select(p => p.Name)];

    /// <inheritdoc />
    public override string ToString() =>
        Parameters.Count == 0 ? Name : $"{Name}({string.Join(", ", Parameters.Select(p => $"{p.Key}={p.Value}"))})";
}
