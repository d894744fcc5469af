namespace Actorvisor.Host.Node;

/// <summary>
/// TLS on the remote transport (DotNetty SSL): this node's certificate (PKCS#12 with its private key) and the
/// CA certificate every peer's certificate must be signed by. Mutual: nodes and clients without a certificate
/// from that CA are refused.
/// </summary>
/// <param name="CertificatePath">The node's .pfx file.</param>
/// <param name="CertificatePassword">Its password ("" for none).</param>
/// <param name="CaCertificatePath">The CA certificate (PEM or DER) peers must chain to.</param>
public sealed record TlsSettings(string CertificatePath, string CertificatePassword, string CaCertificatePath)
{
    /// <summary>The files, never the password.</summary>
    public override string ToString() => $"TlsSettings {{ certificate {CertificatePath}, password {(CertificatePassword.Length == 0 ? "none" : "***")}, CA {CaCertificatePath} }}";
}
