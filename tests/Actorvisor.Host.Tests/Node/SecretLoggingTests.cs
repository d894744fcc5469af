using Actorvisor.Host.Tests.Cluster;

namespace Actorvisor.Host.Tests.Node;

/// <summary>A node run at Debug level with an API token: neither its token nor a wrong one a client sent shows up in what it logs.</summary>
public sealed class SecretLoggingTests : IDisposable
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(90); // forming a one-node cluster takes about 5 s on the shared machine
    private readonly string _dir = Directory.CreateTempSubdirectory("actorvisor-secrets-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task Tokens_never_appear_in_the_log_of_a_run()
    {
        const string token = "tok-3f9d0c2a-never-logged";
        const string wrongToken = "tok-b71e-wrong-also-never-logged";
        var tokenFile = Path.Combine(_dir, "api-token");
        PrivateFile.WriteAllText(tokenFile, token + "\n");
        var port = Actorvisor.Host.Cluster.LoopbackCluster.FreePorts(1)[0];
        var contact = $"127.0.0.1:{port}";
        int exit;
        string log;
        await using (var node = ActorvisorProcess.Start("s1", ["node", "--stop-on-stdin-eof", "--name", "s1", "--port", port.ToString(),
            "--data-dir", Path.Combine(_dir, "s1"), "--api-token-file", tokenFile, "--log-level", "Debug", "--vcpus", "4", "--memory", "64M"]))
        {
            await node.WaitForLineAsync("Node s1 is Up in cluster", Wait);
            var ok = await ActorvisorProcess.RunAsync(["vm", "create", "quiet", "--image", "hello", "--node", contact, "--token", token]);
            Assert.True(ok.ExitCode == 0, ok.ToString());
            var wrong = await ActorvisorProcess.RunAsync(["vm", "list", "--node", contact, "--token", wrongToken]);
            Assert.Equal(1, wrong.ExitCode);
            var invalid = await ActorvisorProcess.RunAsync(["vm", "create", "bad", "--image", "sub/x.bin", "--node", contact, "--token", token]);
            Assert.Equal(2, invalid.ExitCode);
            await node.WaitForLineAsync("Refused a ListVmsRequest", Wait);
            node.CloseInput();
            exit = await node.WaitForExitAsync(Wait);
            log = node.Output;
        }
        Assert.True(exit == 0, log);
        // The log did record the requests (so the grep below looks at the right output) ...
        Assert.Contains("Created VM quiet", log);
        Assert.Contains("a wrong API token", log);
        // ... and neither token, nor a long piece of one.
        Assert.DoesNotContain(token, log);
        Assert.DoesNotContain(wrongToken, log);
        Assert.DoesNotContain("3f9d0c2a", log);
        Assert.DoesNotContain("b71e-wrong", log);
    }
}
