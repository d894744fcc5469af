using System.Net;

namespace Actorvisor.Host.Node;

/// <summary>
/// Where a node receives live migrations: the address its migration listeners bind (<paramref name="Listen"/>), the
/// host a source connects to (<paramref name="AdvertisedHost"/>: the node's public host), and the TLS both ends put on
/// the stream when the cluster uses TLS (<paramref name="Tls"/>; null: plain TCP).
/// </summary>
public sealed record MigrationEndpoint(IPAddress Listen, string AdvertisedHost, MigrationStreamTls? Tls = null)
{
    /// <summary>Loopback, plain TCP (tests and a node without settings).</summary>
    public static MigrationEndpoint Loopback { get; } = new(IPAddress.Loopback, "127.0.0.1");

    /// <summary>The endpoint of a node with <paramref name="settings"/>: it binds its remoting host and advertises its public host.</summary>
    public static MigrationEndpoint Of(NodeSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        var listen = IPAddress.TryParse(settings.Host, out var ip) ? ip
            : Dns.GetHostAddresses(settings.Host).FirstOrDefault() ?? IPAddress.Any;
        var advertised = settings.PublicHost ?? (listen.Equals(IPAddress.Any) || listen.Equals(IPAddress.IPv6Any) ? Dns.GetHostName() : settings.Host);
        return new MigrationEndpoint(listen, advertised, settings.Tls is { } tls ? MigrationStreamTls.Load(tls) : null);
    }
}
