namespace Actorvisor.Hardware.Guests;

/// <summary>
/// One guest of <see cref="GuestCatalog"/>: its name, its parameters and how to assemble it from their
/// values. Owns the image built with the default parameters, assembled once and shared (loading copies it).
/// </summary>
/// <param name="Name">The name it is booted by (a scenario's <c>guest:</c>, an API spec's <c>image</c>).</param>
/// <param name="Parameters">What can be set.</param>
/// <param name="Builder">Assembles the guest from parameter values.</param>
public sealed record CatalogGuest(string Name, IReadOnlyList<GuestParameter> Parameters, Func<IReadOnlyDictionary<string, int>, GuestImage> Builder)
{
    private readonly Lazy<GuestImage> _default = new(() => Builder(Parameters.ToDictionary(p => p.Name, p => p.Default)));

    /// <summary>For a guest told where to write: the guest-physical range it writes, from its parameter values (checked against the VM's memory).</summary>
    public Func<IReadOnlyDictionary<string, int>, (ulong Address, ulong Length)>? Writes { get; init; }

    /// <summary>For a guest told where to read: the guest-physical range it reads, from its parameter values (checked against the VM's memory).</summary>
    public Func<IReadOnlyDictionary<string, int>, (ulong Address, ulong Length)>? Reads { get; init; }

    /// <summary>Assembles the guest with <paramref name="values"/> (one per parameter).</summary>
    public GuestImage Build(IReadOnlyDictionary<string, int> values) => Builder(values);

    /// <summary>The guest with every parameter at its default, assembled on first use and shared after.</summary>
    public GuestImage Default => _default.Value;
}
