using Actorvisor.Host.Cluster;
using System.Net;
using System.Security.Cryptography.X509Certificates;
using Actorvisor.Host.Node;
using Actorvisor.Host.Tests.Cluster;

namespace Actorvisor.Host.Tests.Web;

/// <summary>
/// With the node's TLS settings, its HTTP endpoint serves HTTPS with the node's certificate: a client that trusts the
/// cluster's CA reaches the API (still behind the token) and the page, the CLI too, and not with another CA; plain
/// HTTP is not served.
/// </summary>
public sealed class HttpsEndpointTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("actorvisor-https-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task The_endpoint_serves_https_with_the_nodes_certificate()
    {
        using var certificates = new LoopbackCertificates(Path.Combine(_dir, "pki"), "web-ca");
        const string password = "pfx-password";
        var tls = new TlsSettings(certificates.Issue("w1", password), password, certificates.CaPath);
        using var ca = X509CertificateLoader.LoadCertificateFromFile(certificates.CaPath);
        await using var node = await WebNode.StartAsync("w1", tls, ca);

        var (status, json) = await node.SendJson(HttpMethod.Get, "/api/v1/cluster");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("Up", json.GetProperty("nodes")[0].GetProperty("status").GetString());
        var (refused, error) = await node.SendJson(HttpMethod.Get, "/api/v1/vms", bearer: "wrong");
        Assert.Equal(HttpStatusCode.Unauthorized, refused);
        Assert.Equal("Unauthorized", error.GetProperty("code").GetString());
        var (page, html) = await node.Send(HttpMethod.Get, "/", bearer: null);
        Assert.Equal(HttpStatusCode.OK, page);
        Assert.Contains("<title>Actorvisor</title>", html);

        // The CLI's HTTP path checks the node's certificate against the CA it is given, and that CA alone.
        string[] list = ["vm", "list", "--http", $"https://127.0.0.1:{node.HttpPort}", "--token", WebNode.Token, "--json"];
        var trusted = await ActorvisorProcess.RunAsync([.. list, "--tls-ca", certificates.CaPath]);
        Assert.True(trusted.ExitCode == 0, trusted.ToString());
        Assert.Contains("\"vms\"", trusted.Stdout);
        using var otherCa = new LoopbackCertificates(Path.Combine(_dir, "other-pki"), "other-ca");
        var untrusted = await ActorvisorProcess.RunAsync([.. list, "--tls-ca", otherCa.CaPath]);
        Assert.True(untrusted.ExitCode == 1, untrusted.ToString());
        Assert.Contains("cannot be reached", untrusted.Stdout);

        using var plain = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
        await Assert.ThrowsAnyAsync<HttpRequestException>(() => plain.GetAsync($"http://127.0.0.1:{node.HttpPort}/readyz"));
    }
}
