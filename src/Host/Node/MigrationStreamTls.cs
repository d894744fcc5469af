using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using Actorvisor.Host.Cluster;

namespace Actorvisor.Host.Node;

/// <summary>
/// Mutual TLS on a live migration's TCP stream with the cluster's own certificates (those of the remote transport,
/// <see cref="TlsSettings"/>): each end presents its node certificate and accepts the other's only if it chains to the
/// cluster CA (<see cref="ClusterTls.ChainsTo"/>), as the transport does. The handshake runs on the migration thread
/// that calls <see cref="Client"/> or <see cref="Server"/>; a refused peer fails it with an <see cref="AuthenticationException"/>.
/// </summary>
public sealed class MigrationStreamTls
{
    private readonly X509Certificate2 _certificate;
    private readonly X509Certificate2 _ca;

    /// <summary>TLS with <paramref name="certificate"/> (with its private key) as this node, peers checked against <paramref name="ca"/>.</summary>
    public MigrationStreamTls(X509Certificate2 certificate, X509Certificate2 ca)
    {
        _certificate = certificate;
        _ca = ca;
    }

    /// <summary>The TLS of a node configured with <paramref name="tls"/>.</summary>
    public static MigrationStreamTls Load(TlsSettings tls)
    {
        ArgumentNullException.ThrowIfNull(tls);
        return new MigrationStreamTls(X509CertificateLoader.LoadPkcs12FromFile(tls.CertificatePath, tls.CertificatePassword),
            X509CertificateLoader.LoadCertificateFromFile(tls.CaCertificatePath));
    }

    /// <summary>The source's end: authenticates the target and itself over <paramref name="stream"/>.</summary>
    public Stream Client(Stream stream)
    {
        var ssl = new SslStream(stream, leaveInnerStreamOpen: false, Validate);
        ssl.AuthenticateAsClient(new SslClientAuthenticationOptions
        {
            TargetHost = "actorvisor-migration",
            ClientCertificates = [_certificate],
            CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
        });
        return ssl;
    }

    /// <summary>The target's end: authenticates itself and the source over <paramref name="stream"/>.</summary>
    public Stream Server(Stream stream)
    {
        var ssl = new SslStream(stream, leaveInnerStreamOpen: false, Validate);
        ssl.AuthenticateAsServer(new SslServerAuthenticationOptions
        {
            ServerCertificate = _certificate,
            ClientCertificateRequired = true,
            CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
        });
        return ssl;
    }

    /// <summary>True if the two ends are authenticated to each other (for a test's assertions).</summary>
    public static bool IsMutual(Stream stream) => stream is SslStream { IsMutuallyAuthenticated: true };

    // Only the cluster CA counts; the host name is not checked (node certificates name nodes, not hosts), as on the transport.
    private bool Validate(object sender, X509Certificate? certificate, X509Chain? chain, SslPolicyErrors errors) =>
        certificate is not null && ClusterTls.ChainsTo(new X509Certificate2(certificate), _ca);
}
