namespace Actorvisor.Host.Api.Client;

/// <summary>How an <see cref="ApiClient"/> reaches a cluster.</summary>
/// <param name="ClusterName">The cluster's (actor system's) name.</param>
/// <param name="Contacts">host:port of one or more nodes (any node serves the API).</param>
/// <param name="Token">The shared API token, if the cluster requires one.</param>
/// <param name="Timeout">How long one request may take.</param>
/// <param name="Tls">The client's TLS certificate, when the cluster runs TLS.</param>
public sealed record ApiClientOptions(string ClusterName, IReadOnlyList<string> Contacts, string? Token, TimeSpan Timeout, ClientTls? Tls = null);

/// <summary>A client's TLS certificate (PKCS#12 with key) and the CA the nodes' certificates must be issued by.</summary>
/// <param name="CertificatePath">The client's certificate with its private key (PKCS#12, .pfx).</param>
/// <param name="Password">The password of that file.</param>
/// <param name="CaCertificatePath">The cluster CA's certificate (PEM or DER).</param>
public sealed record ClientTls(string CertificatePath, string Password, string CaCertificatePath);
