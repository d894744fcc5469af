using Actorvisor.Host.Cluster;
using Akka.Hosting;
using Akka.Remote.Hosting;

namespace Actorvisor.Host.Node;

/// <summary>The remote transport of a node: the bind address and, when configured, TLS.</summary>
public static class NodeTransport
{
    /// <summary>Remoting options for <paramref name="settings"/>.</summary>
    public static RemoteOptions Options(NodeSettings settings) => new()
    {
        HostName = settings.Host,
        Port = settings.Port,
        PublicHostName = settings.PublicHost ?? settings.Host,
    };

    /// <summary>Turns on TLS when <paramref name="tls"/> is set.</summary>
    public static void AddTls(AkkaConfigurationBuilder akka, TlsSettings? tls)
    {
        if (tls is null) return;
        akka.AddHocon(ClusterTls.Hocon, HoconAddMode.Prepend);
        akka.AddSetup(ClusterTls.Setup(tls.CertificatePath, tls.CertificatePassword, tls.CaCertificatePath));
    }
}
