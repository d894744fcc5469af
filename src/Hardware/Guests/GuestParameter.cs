namespace Actorvisor.Hardware.Guests;

/// <summary>A parameter of a <see cref="GuestCatalog"/> guest: its name, its allowed range and its default.</summary>
/// <param name="Name">The key it is set by (e.g. in a scenario's <c>guest:</c> mapping).</param>
/// <param name="Min">Smallest allowed value.</param>
/// <param name="Max">Largest allowed value.</param>
/// <param name="Default">Used when it is not set.</param>
/// <param name="Description">What it controls.</param>
public sealed record GuestParameter(string Name, int Min, int Max, int Default, string Description);
