using System.Net.Security;
using System.Runtime.InteropServices;
using System.Security.Cryptography.X509Certificates;

namespace Actorvisor.Host.Cli;

/// <summary>
/// How a CLI process checks a node's HTTPS certificate: with the cluster's CA it must chain to that CA alone and name
/// the host asked (revocation is not checked: the cluster CA publishes no lists); without one, the system's trust
/// applies. With the CA, the process also tells the runtime's OpenSSL layer to read no system trust store: .NET on
/// Linux loads every certificate under /etc/ssl/certs (a few hundred files, parsed and de-duplicated in managed code)
/// before it builds any chain, even one that trusts a custom root only, and that load was the largest share of a
/// `vm list --http` process (about 100 ms of CPU of 180, measured with `strace -r` and timings of each phase).
/// Only this process's environment changes (SSL_CERT_FILE and SSL_CERT_DIR set empty), and only before its first chain.
/// </summary>
public static partial class ClusterCaTrust
{
    /// <summary>Client TLS options for <paramref name="host"/>: the cluster CA's chain policy, or the system's trust when <paramref name="ca"/> is null.</summary>
    public static SslClientAuthenticationOptions ClientOptions(string host, X509Certificate2? ca)
    {
        var options = new SslClientAuthenticationOptions { TargetHost = host };
        if (ca is null) return options;
        SkipSystemStore();
        var policy = new X509ChainPolicy { TrustMode = X509ChainTrustMode.CustomRootTrust, RevocationMode = X509RevocationMode.NoCheck };
        policy.CustomTrustStore.Add(ca);
        options.CertificateChainPolicy = policy;
        // The runtime checked the chain with the policy above and the name against the host: any error refuses.
        options.RemoteCertificateValidationCallback = (_, certificate, _, errors) => certificate is not null && errors == SslPolicyErrors.None;
        return options;
    }

    private static void SkipSystemStore()
    {
        if (!OperatingSystem.IsLinux()) return;
        // Read by the runtime's native layer with getenv, which Environment.SetEnvironmentVariable does not reach on Unix.
        _ = SetEnv("SSL_CERT_FILE", "", 1);
        _ = SetEnv("SSL_CERT_DIR", "", 1);
    }

    [LibraryImport("libc", EntryPoint = "setenv", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int SetEnv(string name, string value, int overwrite);
}
