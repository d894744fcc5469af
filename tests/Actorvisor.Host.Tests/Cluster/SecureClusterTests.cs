using Actorvisor.Host.Cluster;
using Actorvisor.Host.Api.Client;
using Actorvisor.Host.Api.V1;

namespace Actorvisor.Host.Tests.Cluster;

/// <summary>A cluster with TLS (certificates from its own CA) and a shared API token.</summary>
public sealed class SecureCluster : LocalCluster
{
    private ClusterTlsFiles? _tls;

    /// <summary>A CA that is not the cluster's, for intruders.</summary>
    public LoopbackCertificates OtherCa { get; private set; } = null!;

    /// <inheritdoc />
    public override string? Token => "correct-horse-battery-staple";

    /// <inheritdoc />
    public override ClusterTlsFiles? Tls => _tls;

    /// <inheritdoc />
    public override async Task InitializeAsync()
    {
        var dir = Path.Combine(Root, "tls");
        using var ca = new LoopbackCertificates(dir, "actorvisor-test-ca");
        const string password = "pfx-pass";
        var passwordFile = Path.Combine(dir, "pfx-password");
        PrivateFile.WriteAllText(passwordFile, password);
        _tls = new ClusterTlsFiles(new[] { "n1", "n2", "n3" }.Select(n => ca.Issue(n, password)).ToList(), ca.Issue("client", password), ca.CaPath, password, passwordFile);
        OtherCa = new LoopbackCertificates(Path.Combine(Root, "other-ca"), "someone-else");
        await base.InitializeAsync();
    }

    /// <inheritdoc />
    public override async Task DisposeAsync()
    {
        OtherCa?.Dispose();
        await base.DisposeAsync();
    }
}

/// <summary>TLS and the API token: the right client works, a client without the token or certificate and a node without the certificate are refused.</summary>
[Collection(ClusterCollection.Name)]
public sealed class SecureClusterTests(SecureCluster cluster) : IClassFixture<SecureCluster>
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task A_client_with_certificate_and_token_is_served()
    {
        var status = Assert.IsType<ClusterStatusReply>(await cluster.Client.RequestAsync(new ClusterStatusRequest()));
        Assert.Equal(3, status.Nodes.Count(n => n.Status == "Up"));
        var created = await ActorvisorProcess.RunAsync(cluster.Cli(1, "vm", "console", "nope"));
        Assert.Equal(1, created.ExitCode);
        Assert.Contains("NotFound", created.Stderr);
    }

    [Fact]
    public async Task A_request_without_the_token_or_with_a_wrong_one_is_unauthorized()
    {
        var tls = cluster.Tls!;
        await using var client = ApiClient.Connect(new ApiClientOptions("actorvisor", [cluster.Contact(0)], null, TimeSpan.FromSeconds(30),
            new ClientTls(tls.ClientCertificate, tls.Password, tls.CaPath)));
        var missing = Assert.IsType<ApiErrorReply>(await client.RequestAsync(new ListVmsRequest()));
        Assert.Equal((ApiErrorCode.Unauthorized, "token"), (missing.Code, missing.Field));
        Assert.Contains("missing API token", missing.Message);
        var wrong = Assert.IsType<ApiErrorReply>(await client.RequestAsync(new CreateVmRequest(new ApiVmSpec("x", 1, 16UL << 20, "hello")) { Token = "guess" }));
        Assert.Equal(ApiErrorCode.Unauthorized, wrong.Code);
        Assert.Contains("wrong API token", wrong.Message);
        var cli = await ActorvisorProcess.RunAsync(["vm", "list", "--node", cluster.Contact(2), "--tls-certificate", tls.ClientCertificate,
            "--tls-password-file", tls.PasswordFile, "--tls-ca", tls.CaPath]);
        Assert.Equal(1, cli.ExitCode);
        Assert.Contains("Unauthorized", cli.Stderr);
        // Nothing was created by the refused request.
        var list = Assert.IsType<VmListReply>(await cluster.Client.RequestAsync(new ListVmsRequest()));
        Assert.DoesNotContain(list.Vms, v => v.Name == "x");
    }

    [Fact]
    public async Task A_client_without_a_certificate_gets_no_answer()
    {
        var plain = await ActorvisorProcess.RunAsync(["cluster", "status", "--node", cluster.Contact(0), "--token", cluster.Token!, "--timeout", "3"]);
        Assert.Equal(1, plain.ExitCode);
        Assert.Contains("no answer", plain.Stderr);
    }

    [Fact]
    public async Task A_client_with_a_certificate_from_another_ca_gets_no_answer()
    {
        var foreign = cluster.OtherCa.Issue("mallory", "x");
        var passwordFile = Path.Combine(cluster.OtherCa.Directory, "password");
        PrivateFile.WriteAllText(passwordFile, "x"); // owner-only: the CLI refuses a secret file others may read
        var logged = cluster.Nodes[0].WaitForLineAsync("certificate CN=mallory is not issued by the cluster CA", Wait);
        var r = await ActorvisorProcess.RunAsync(["cluster", "status", "--node", cluster.Contact(0), "--token", cluster.Token!, "--timeout", "3",
            "--tls-certificate", foreign, "--tls-password-file", passwordFile, "--tls-ca", cluster.Tls!.CaPath]);
        Assert.Equal(1, r.ExitCode);
        await logged;
    }

    [Fact]
    public async Task A_node_without_the_certificate_cannot_join()
    {
        var port = Actorvisor.Host.Cluster.LoopbackCluster.FreePorts(1)[0];
        await using var intruder = ActorvisorProcess.Start("intruder", ["node", "--stop-on-stdin-eof", "--name", "intruder", "--port", port.ToString(),
            "--seed", cluster.Contact(0), "--data-dir", Path.Combine(cluster.Root, "intruder")]);
        // It speaks plain TCP to a node that only speaks TLS: its association fails at the first attempt.
        await intruder.WaitForLineAsync($"Association failed with akka.tcp://actorvisor@{cluster.Contact(0)}", Wait);
        await AssertNotMember(port, intruder);
    }

    [Fact]
    public async Task A_node_with_a_certificate_from_another_ca_cannot_join()
    {
        var port = Actorvisor.Host.Cluster.LoopbackCluster.FreePorts(1)[0];
        var passwordFile = Path.Combine(cluster.OtherCa.Directory, "intruder-password");
        PrivateFile.WriteAllText(passwordFile, "y");
        var refused = cluster.Nodes[0].WaitForLineAsync("certificate CN=intruder-tls is not issued by the cluster CA", Wait);
        await using var intruder = ActorvisorProcess.Start("intruder-tls", ["node", "--stop-on-stdin-eof", "--name", "intruder-tls", "--port", port.ToString(),
            "--seed", cluster.Contact(0), "--data-dir", Path.Combine(cluster.Root, "intruder-tls"),
            "--tls-certificate", cluster.OtherCa.Issue("intruder-tls", "y"), "--tls-password-file", passwordFile, "--tls-ca", cluster.OtherCa.CaPath]);
        await refused;
        // It refuses the cluster's certificates as well, and a node whose TLS handshake fails stops with an error.
        Assert.Equal(1, await intruder.WaitForExitAsync(Wait));
        Assert.Contains("TLS handshake failed", intruder.Output);
        await AssertNotMember(port, intruder);
    }

    private async Task AssertNotMember(int port, ActorvisorProcess intruder)
    {
        var status = Assert.IsType<ClusterStatusReply>(await cluster.Client.RequestAsync(new ClusterStatusRequest()));
        Assert.DoesNotContain(status.Nodes, n => n.Address.EndsWith($":{port}"));
        Assert.Equal(3, status.Nodes.Count);
        Assert.DoesNotContain("is Up in cluster", intruder.Output);
    }
}
