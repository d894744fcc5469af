using Akka.Configuration;

namespace Actorvisor.Host.Api.Client;

/// <summary>The client's remote transport settings: plain TCP, or TLS with the client's certificate.</summary>
internal static class ClientTransportConfig
{
    public static Config For(ClientTls? tls)
    {
        if (tls is null) return Config.Empty;
        throw new NotImplementedException();
    }
}
