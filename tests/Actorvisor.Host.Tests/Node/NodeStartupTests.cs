using Actorvisor.Host.Tests.Cluster;

namespace Actorvisor.Host.Tests.Node;

/// <summary>`actorvisor node` with unusable settings exits 2 at once with a message naming the setting.</summary>
public sealed class NodeStartupTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("actorvisor-startup-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private async Task<CliResult> Node(IReadOnlyDictionary<string, string>? env, params string[] args) =>
        await ActorvisorProcess.RunAsync(["node", "--data-dir", Path.Combine(_dir, "data"), .. args], TimeSpan.FromSeconds(60), env);

    [Fact]
    public async Task A_bad_port_flag_is_named()
    {
        var r = await Node(null, "--port", "70000");
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("actorvisor node: Node:Port: '70000' is not a port", r.Stderr);
    }

    [Fact]
    public async Task A_bad_port_in_the_environment_is_named()
    {
        var r = await Node(new Dictionary<string, string> { ["ACTORVISOR_Node__Port"] = "99999" });
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("Node:Port: '99999' is not a port", r.Stderr);
    }

    [Fact]
    public async Task An_unknown_key_in_the_config_file_is_named()
    {
        var file = Path.Combine(_dir, "node.json");
        await File.WriteAllTextAsync(file, """{ "Node": { "Port": 4053 }, "Capacity": { "Cpus": 4 } }""");
        var r = await Node(null, "--config", file);
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("Capacity:Cpus: unknown setting", r.Stderr);
    }

    [Fact]
    public async Task A_missing_certificate_is_named()
    {
        var r = await Node(null, "--tls-certificate", Path.Combine(_dir, "missing.pfx"), "--tls-ca", Path.Combine(_dir, "ca.pem"));
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("Tls:Certificate:", r.Stderr);
        Assert.Contains("missing.pfx does not exist", r.Stderr);
    }

    [Fact]
    public async Task A_world_readable_token_file_stops_the_node_naming_the_file_and_the_fix()
    {
        var token = Path.Combine(_dir, "api-token");
        await File.WriteAllTextAsync(token, "tok-readable-by-all");
        File.SetUnixFileMode(token, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
        var r = await Node(null, "--check-config", "--api-token-file", token);
        Assert.Equal(2, r.ExitCode);
        Assert.Contains($"Api:TokenFile: {token} is accessible by its group and other users (mode 0644)", r.Stderr);
        Assert.Contains($"chmod 600 {token}", r.Stderr);
        Assert.DoesNotContain("tok-readable-by-all", r.Stdout + r.Stderr);
        File.SetUnixFileMode(token, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        var fixedUp = await Node(null, "--check-config", "--api-token-file", token);
        Assert.True(fixedUp.ExitCode == 0, fixedUp.ToString());
        Assert.Contains("API token on", fixedUp.Stdout);
    }

    [Fact]
    public async Task A_missing_config_file_is_named()
    {
        var r = await Node(null, "--config", Path.Combine(_dir, "absent.json"));
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("--config:", r.Stderr);
    }

    [Fact]
    public async Task Check_config_accepts_good_settings_without_starting()
    {
        var r = await Node(null, "--check-config", "--port", "4999", "--name", "checked");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Contains("settings OK: node checked at akka.tcp://actorvisor@127.0.0.1:4999", r.Stdout);
    }

    [Fact]
    public async Task A_port_in_use_is_named()
    {
        var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        try
        {
            var port = ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
            var r = await Node(null, "--port", port.ToString());
            Assert.Equal(2, r.ExitCode);
            Assert.Contains($"Node:Port: 127.0.0.1:{port} is already in use", r.Stderr);
        }
        finally
        {
            listener.Stop();
        }
    }

    [Fact]
    public async Task A_data_directory_held_by_another_node_is_named()
    {
        var data = Path.Combine(_dir, "data");
        Directory.CreateDirectory(data);
        using var held = new FileStream(Path.Combine(data, "node.lock"), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        var r = await Node(null, "--port", "4998");
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("Node:DataDir:", r.Stderr);
        Assert.Contains("in use by another node", r.Stderr);
    }

    [Fact]
    public async Task A_node_stops_cleanly_when_its_supervisor_closes_its_input()
    {
        var port = Actorvisor.Host.Cluster.LoopbackCluster.FreePorts(1)[0];
        await using var node = ActorvisorProcess.Start("solo", ["node", "--stop-on-stdin-eof", "--name", "solo", "--port", port.ToString(),
            "--data-dir", Path.Combine(_dir, "solo"), "--memory", "64M"]);
        await node.WaitForLineAsync("Node solo is Up in cluster", TimeSpan.FromSeconds(60));
        node.CloseInput();
        Assert.Equal(0, await node.WaitForExitAsync(TimeSpan.FromSeconds(60)));
        Assert.Contains("Node solo stopped", node.Output);
    }
}
