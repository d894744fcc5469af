namespace Actorvisor.Host.Tests.Cluster;

/// <summary>Certificates for a TLS test cluster: one per node, one for the client, the CA, and the shared password.</summary>
public sealed record ClusterTlsFiles(IReadOnlyList<string> NodeCertificates, string ClientCertificate, string CaPath, string Password, string PasswordFile);
