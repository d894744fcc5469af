using Actorvisor.Hardware.Guests;

namespace Actorvisor.Host.Node;

/// <summary>
/// The library guests every node ships, by name (the same on every node of one version, so the API can
/// check a name before a VM is placed). Parameterised guests use their default parameters (exit-with: 42;
/// memory-writer: 16 pages; port-io-loop: 1000 writes), plus <see cref="Spin"/>. Images are assembled once and shared: loading copies them.
/// </summary>
public static class GuestCatalog
{
    /// <summary>The name of a guest that runs until it is stopped (a port-I/O loop of 2^31 - 1 writes): for pause, resume and stop.</summary>
    public const string Spin = "spin";

    private static readonly Lazy<IReadOnlyDictionary<string, GuestImage>> Guests = new(() =>
    {
        var guests = GuestLibrary.All().ToDictionary(g => g.Name, StringComparer.Ordinal);
        guests[Spin] = GuestLibrary.PortIoLoop(int.MaxValue);
        return guests;
    });

    /// <summary>Every library guest name, sorted.</summary>
    public static IReadOnlyList<string> Names => Guests.Value.Keys.Order(StringComparer.Ordinal).ToList();

    /// <summary>The guest called <paramref name="name"/>, if there is one.</summary>
    public static bool TryGet(string name, out GuestImage image) => Guests.Value.TryGetValue(name, out image!);

    /// <summary>True if <paramref name="image"/> names a file on the node (it contains a '/') rather than a library guest.</summary>
    public static bool IsPath(string image) => image.Contains('/');
}
