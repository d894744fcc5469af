using System.Security.Cryptography.X509Certificates;
using Akka.Event;
using Akka.Remote.Transport.DotNetty;

namespace Actorvisor.Host.Cluster;

/// <summary>
/// Mutual TLS on the remote transport, pinned to the cluster's own CA: every node and client presents a
/// certificate, and a peer is accepted only if its certificate chains to that CA (the system trust store is
/// not consulted, so a certificate from any other CA, or none, is refused).
/// </summary>
public static class ClusterTls
{
    /// <summary>The HOCON that turns TLS on (the certificate itself comes with <see cref="Setup"/>).</summary>
    public const string Hocon = "akka.remote.dot-netty.tcp.enable-ssl = true";

    /// <summary>The transport's TLS setup: <paramref name="certificatePath"/> (PKCS#12) as our identity, peers checked against <paramref name="caPath"/>.</summary>
    /// <param name="certificatePath">Our certificate with its private key (PKCS#12).</param>
    /// <param name="password">That file's password.</param>
    /// <param name="caPath">The cluster CA's certificate.</param>
    public static DotNettySslSetup Setup(string certificatePath, string password, string caPath)
    {
        var certificate = X509CertificateLoader.LoadPkcs12FromFile(certificatePath, password);
        var ca = X509CertificateLoader.LoadCertificateFromFile(caPath);
        return new DotNettySslSetup(certificate, suppressValidation: false, requireMutualAuthentication: true, validateCertificateHostname: false,
            customValidator: (peer, _, remote, _, log) =>
            {
                if (peer is null)
                {
                    log.Warning("TLS: refused {0}: it presented no certificate", remote);
                    return false;
                }
                var ok = ChainsTo(peer, ca);
                if (!ok) log.Warning("TLS: refused {0}: certificate {1} is not issued by the cluster CA {2}", remote, peer.Subject, ca.Subject);
                return ok;
            });
    }

    /// <summary>True if <paramref name="certificate"/> chains to <paramref name="ca"/> (and only to it) and is within its validity period.</summary>
    /// <param name="certificate">The peer's certificate.</param>
    /// <param name="ca">The cluster CA.</param>
    public static bool ChainsTo(X509Certificate2 certificate, X509Certificate2 ca)
    {
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(ca);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        return chain.Build(certificate) && chain.ChainElements[^1].Certificate.Thumbprint == ca.Thumbprint;
    }

}
