using System.Collections;
using Actorvisor.Hardware.Accel;
using Actorvisor.Host.Node;

namespace Actorvisor.Host.Tests.Node;

public sealed class NodeSettingsLoaderTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("actorvisor-settings-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string File(string name, string content)
    {
        var path = Path.Combine(_dir, name);
        Cluster.PrivateFile.WriteAllText(path, content);
        return path;
    }

    private static Dictionary<string, IReadOnlyList<string>> Flags(params (string Key, string Value)[] flags) =>
        flags.ToDictionary(f => f.Key, f => (IReadOnlyList<string>)[f.Value], StringComparer.OrdinalIgnoreCase);

    private NodeSettings Load(string? file = null, Dictionary<string, IReadOnlyList<string>>? flags = null, IDictionary? env = null)
    {
        flags ??= Flags();
        if (!flags.ContainsKey("Node:DataDir")) flags["Node:DataDir"] = [Path.Combine(_dir, "data")];
        return NodeSettingsLoader.Load(file, flags, env ?? new Hashtable());
    }

    private NodeConfigException Fails(string? file = null, Dictionary<string, IReadOnlyList<string>>? flags = null, IDictionary? env = null) =>
        Assert.Throws<NodeConfigException>(() => Load(file, flags, env));

    [Fact]
    public void A_full_file_is_read_and_normalised()
    {
        var file = File("node.json", """
            {
              "Cluster": { "Name": "lab", "SeedNodes": ["10.0.0.1:4053", "akka.tcp://lab@10.0.0.2:4053"], "StableAfter": "7s", "HeartbeatPause": "1500ms" },
              "Node": { "Name": "hv-1", "Host": "0.0.0.0", "PublicHost": "hv-1.lab", "Port": 5000, "Accelerator": "software" },
              "Capacity": { "Vcpus": 12, "Memory": "3G" },
              "Api": { "Token": "t0k" },
              "Logging": { "Level": "warning" }
            }
            """);
        var s = Load(file);
        Assert.Equal("lab", s.ClusterName);
        Assert.Equal(["akka.tcp://lab@10.0.0.1:4053", "akka.tcp://lab@10.0.0.2:4053"], s.SeedNodes);
        Assert.Equal(TimeSpan.FromSeconds(7), s.StableAfter);
        Assert.Equal(TimeSpan.FromMilliseconds(1500), s.HeartbeatPause);
        Assert.Equal(("hv-1", "0.0.0.0", "hv-1.lab", 5000), (s.NodeName, s.Host, s.PublicHost, s.Port));
        Assert.Equal("akka.tcp://lab@hv-1.lab:5000", s.Address);
        Assert.Equal(AcceleratorPreference.Software, s.Accelerator);
        Assert.Equal((12, 3UL << 30), (s.Vcpus, s.MemoryBytes));
        Assert.Equal("t0k", s.ApiToken);
        Assert.Equal("Warning", s.LogLevel);
        Assert.Null(s.Tls);
        Assert.Equal([Path.Combine(_dir, "data", "images")], s.ImageDirectories);
        Assert.True(Directory.Exists(s.ImageDirectories[0]));
    }

    [Fact]
    public void Environment_overrides_the_file_and_flags_override_both()
    {
        var file = File("node.json", """{ "Node": { "Port": 5000, "Name": "from-file" }, "Capacity": { "Vcpus": 2 } }""");
        var env = new Hashtable
        {
            ["ACTORVISOR_Node__Port"] = "5001",
            ["ACTORVISOR_Cluster__SeedNodes"] = "127.0.0.1:1, 127.0.0.1:2",
            // The CLI's variables have no "__" and are not node settings.
            ["ACTORVISOR_NODE"] = "127.0.0.1:9",
            ["ACTORVISOR_TOKEN"] = "x",
        };
        var s = Load(file, Flags(("Node:Port", "5002")), env);
        Assert.Equal(5002, s.Port);
        Assert.Equal("from-file", s.NodeName);
        Assert.Equal(2, s.Vcpus);
        Assert.Equal(["akka.tcp://actorvisor@127.0.0.1:1", "akka.tcp://actorvisor@127.0.0.1:2"], s.SeedNodes);
        Assert.Equal(5001, Load(file, env: env).Port);
    }

    public static TheoryData<string, string, string> BadFlags() => new()
    {
        { "Node:Port", "70000", "not a port" },
        { "Node:Port", "0", "not a port" },
        { "Node:Port", "-1", "not a port" },
        { "Node:Port", "http", "not a port" },
        { "Node:Name", "no spaces", "contains ' '" },
        { "Node:Host", "a b", "not a host" },
        { "Cluster:Name", "my.cluster", "not a cluster name" },
        { "Cluster:StableAfter", "soon", "not a duration" },
        { "Cluster:StableAfter", "90m", "outside" },
        { "Cluster:HeartbeatPause", "10ms", "outside" },
        { "Node:Accelerator", "qemu", "not an accelerator" },
        { "Node:Accelerator", "1", "not an accelerator" },
        { "Capacity:Vcpus", "0", "not a number of vCPUs" },
        { "Capacity:Memory", "lots", "not a size" },
        { "Capacity:Memory", "1K", "less than 1 MiB" },
        { "Logging:Level", "Verbose", "not a level" },
        { "Api:TokenFile", "/nonexistent/token", "does not exist" },
        { "Tls:Certificate", "/nonexistent/node.pfx", "does not exist" },
        { "Tls:CaCertificate", "/nonexistent/ca.pem", "Tls:Certificate" },
    };

    [Theory]
    [MemberData(nameof(BadFlags))]
    public void A_bad_value_fails_naming_the_setting(string setting, string value, string problem)
    {
        var e = Fails(flags: Flags((setting, value)));
        Assert.StartsWith(setting.Split(':')[0], e.Setting);
        Assert.Contains(problem, e.Message);
        Assert.StartsWith(e.Setting + ":", e.Message);
    }

    [Fact]
    public void Bad_seeds_are_named_by_index()
    {
        var e = Fails(flags: new(StringComparer.OrdinalIgnoreCase) { ["Cluster:SeedNodes"] = ["127.0.0.1:1", "127.0.0.1:99999"] });
        Assert.Equal("Cluster:SeedNodes:1", e.Setting);
        e = Fails(flags: new(StringComparer.OrdinalIgnoreCase) { ["Cluster:SeedNodes"] = ["akka.tcp://other@127.0.0.1:1"] });
        Assert.Contains("names cluster 'other'", e.Message);
        e = Fails(flags: new(StringComparer.OrdinalIgnoreCase) { ["Cluster:SeedNodes"] = ["justahost"] });
        Assert.Contains("no port", e.Message);
    }

    [Fact]
    public void An_unknown_key_in_the_file_is_named_with_the_known_ones()
    {
        var e = Fails(File("typo.json", """{ "Node": { "Prot": 4053 } }"""));
        Assert.Equal("Node:Prot", e.Setting);
        Assert.Contains("unknown setting", e.Message);
        Assert.Contains("Node:Port", e.Message);
        Assert.Equal("Clusterr:Name", Fails(File("typo2.json", """{ "Clusterr": { "Name": "x" } }""")).Setting);
    }

    [Fact]
    public void An_unknown_environment_setting_is_named()
    {
        var e = Fails(env: new Hashtable { ["ACTORVISOR_Node__Colour"] = "blue" });
        Assert.Equal("Node:Colour", e.Setting);
        Assert.Contains("the environment", e.Message);
    }

    [Fact]
    public void A_missing_or_malformed_file_is_named_as_config()
    {
        var missing = Fails(Path.Combine(_dir, "nope.json"));
        Assert.Equal("--config", missing.Setting);
        Assert.Contains("does not exist", missing.Message);
        var broken = Fails(File("broken.json", "{ \"Node\": { \"Port\": "));
        Assert.Equal("--config", broken.Setting);
        Assert.Contains("not a valid JSON", broken.Message);
    }

    [Fact]
    public void A_wildcard_bind_needs_a_public_host()
    {
        Assert.Equal("Node:PublicHost", Fails(flags: Flags(("Node:Host", "0.0.0.0"))).Setting);
    }

    [Fact]
    public void Tls_needs_a_readable_certificate_with_a_key_and_a_ca()
    {
        var notPfx = File("node.pfx", "not a certificate");
        var ca = File("ca.pem", "not a certificate either");
        var e = Fails(flags: Flags(("Tls:Certificate", notPfx), ("Tls:CaCertificate", ca)));
        Assert.Equal("Tls:Certificate", e.Setting);
        Assert.Contains("PKCS#12", e.Message);
        Assert.Equal("Tls:CaCertificate", Fails(flags: Flags(("Tls:Certificate", notPfx))).Setting);
    }

    [Fact]
    public void The_token_comes_from_a_file_and_not_from_both()
    {
        var token = File("token", "  s3cret\n");
        Assert.Equal("s3cret", Load(flags: Flags(("Api:TokenFile", token))).ApiToken);
        Assert.Equal("Api:TokenFile", Fails(flags: Flags(("Api:TokenFile", token), ("Api:Token", "x"))).Setting);
    }

    [Theory]
    [InlineData("Api:TokenFile", UnixFileMode.GroupRead, "its group (mode 0640)")]
    [InlineData("Api:TokenFile", UnixFileMode.OtherRead, "other users (mode 0604)")]
    [InlineData("Tls:PasswordFile", UnixFileMode.GroupRead | UnixFileMode.OtherRead, "its group and other users (mode 0644)")]
    [InlineData("Tls:PasswordFile", UnixFileMode.GroupWrite, "its group (mode 0620)")]
    public void A_secret_file_open_to_other_users_is_refused_naming_the_file_and_the_fix(string setting, UnixFileMode extra, string who)
    {
        var secret = File("secret", "s3cret");
        System.IO.File.SetUnixFileMode(secret, UnixFileMode.UserRead | UnixFileMode.UserWrite | extra);
        var flags = setting == "Api:TokenFile"
            ? Flags((setting, secret))
            : Flags(("Tls:Certificate", File("node.pfx", "not a certificate")), (setting, secret), ("Tls:CaCertificate", File("ca.pem", "x")));
        var e = Fails(flags: flags);
        Assert.Equal(setting, e.Setting);
        Assert.Contains($"{secret} is accessible by {who}", e.Message);
        Assert.Contains($"chmod 600 {secret}", e.Message);
        Assert.DoesNotContain("s3cret", e.Message);
    }

    [Fact]
    public void A_certificate_with_its_private_key_open_to_other_users_is_refused()
    {
        var pfx = File("node.pfx", "not a certificate");
        System.IO.File.SetUnixFileMode(pfx, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
        var e = Fails(flags: Flags(("Tls:Certificate", pfx), ("Tls:CaCertificate", File("ca.pem", "x"))));
        Assert.Equal("Tls:Certificate", e.Setting);
        Assert.Contains($"chmod 600 {pfx}", e.Message);
    }

    [Fact]
    public void A_config_file_holding_a_secret_is_held_to_the_same_rule_and_one_without_is_not()
    {
        var withToken = File("node.json", """{ "Api": { "Token": "t0k-in-file" } }""");
        System.IO.File.SetUnixFileMode(withToken, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
        var e = Fails(withToken);
        Assert.Equal("--config (it holds Api:Token)", e.Setting);
        Assert.Contains($"chmod 600 {withToken}", e.Message);
        var plain = File("plain.json", """{ "Node": { "Port": 4999 } }""");
        System.IO.File.SetUnixFileMode(plain, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
        Assert.Equal(4999, Load(plain).Port);
    }

    [Fact]
    public void Settings_print_without_the_token_or_the_tls_password()
    {
        var s = Load(flags: Flags(("Api:TokenFile", File("token", "t0k-secret-42"))));
        Assert.Contains("API token on", s.ToString());
        Assert.DoesNotContain("t0k-secret-42", s.ToString());
        var tls = new TlsSettings("/etc/actorvisor/n1.pfx", "pfx-pass-42", "/etc/actorvisor/ca.pem");
        Assert.DoesNotContain("pfx-pass-42", (s with { Tls = tls }).ToString());
        Assert.Contains("/etc/actorvisor/n1.pfx", tls.ToString());
    }

    [Fact]
    public void Every_known_setting_has_a_description()
    {
        Assert.All(NodeSettingsLoader.Known, kv => Assert.False(string.IsNullOrWhiteSpace(kv.Value), kv.Key));
    }
}
