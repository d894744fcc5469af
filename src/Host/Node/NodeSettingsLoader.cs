using System.Collections;
using System.Globalization;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.RegularExpressions;
using Actorvisor.Hardware.Accel;
using Actorvisor.Host.Api.V1;
using Actorvisor.Host.Cli;
using Microsoft.Extensions.Configuration;

namespace Actorvisor.Host.Node;

/// <summary>
/// Reads <see cref="NodeSettings"/> from a JSON file (appsettings style: sections Cluster, Node, Capacity, Api,
/// Tls, Logging), then environment variables ACTORVISOR_&lt;Section&gt;__&lt;Key&gt; (variables without "__", such as
/// the CLI's ACTORVISOR_NODE, are not node settings), then flags. Every value is checked; an unknown key, a bad
/// value or a missing file throws <see cref="NodeConfigException"/> naming the setting.
/// </summary>
public static partial class NodeSettingsLoader
{
    /// <summary>The prefix of node settings in the environment.</summary>
    public const string EnvironmentPrefix = "ACTORVISOR_";

    /// <summary>Every setting, with what it means (the reference printed by `actorvisor node --help-settings` and in deploy/README.md).</summary>
    public static readonly IReadOnlyDictionary<string, string> Known = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase)
    {
        ["Cluster:Name"] = "cluster (actor system) name; the same on every node and client (default actorvisor)",
        ["Cluster:SeedNodes"] = "seed nodes, \"host:port\" or \"akka.tcp://NAME@host:port\" (akka.ssl.tcp with TLS) (default: none, the node forms its own cluster)",
        ["Cluster:StableAfter"] = "split-brain resolver: how long membership must be stable before unreachable nodes are downed (default 20s)",
        ["Cluster:HeartbeatPause"] = "failure detector: missed-heartbeat time before a node is unreachable (default 3s)",
        ["Node:Name"] = "this node's name, unique in the cluster (default HOSTNAME-PORT)",
        ["Node:Host"] = "interface to bind (default 127.0.0.1)",
        ["Node:PublicHost"] = "host name other nodes use to reach this one (default Node:Host)",
        ["Node:Port"] = "remoting port, 1..65535 (default 4053)",
        ["Node:DataDir"] = "data directory (default /var/lib/actorvisor as root, else ~/.local/state/actorvisor/NAME)",
        ["Node:ImageDirectories"] = "directories VM image files may be loaded from (default DataDir/images)",
        ["Node:SnapshotDirectories"] = "directories VM snapshots are written to (the first) and restored from (default DataDir/snapshots)",
        ["Node:Accelerator"] = "auto, kvm or software (default auto: KVM if /dev/kvm is usable)",
        ["Node:HttpEndpoint"] = "IP:port of the HTTP endpoint (web view, /api/v1 and /metrics with the API token, /healthz, /readyz; HTTPS with Tls), e.g. 127.0.0.1:9464 (default: none, off)",
        ["Capacity:Vcpus"] = "vCPUs this node hands out (default 4 per host CPU)",
        ["Capacity:Memory"] = "guest RAM this node hands out, e.g. 8G (default half the host's memory)",
        ["Api:Token"] = "shared API token every request must carry (default: none)",
        ["Api:TokenFile"] = "file holding the API token (instead of Api:Token)",
        ["Tls:Certificate"] = "PKCS#12 (.pfx) certificate with private key; turns on TLS for all remoting",
        ["Tls:Password"] = "password of Tls:Certificate",
        ["Tls:PasswordFile"] = "file holding the password of Tls:Certificate",
        ["Tls:CaCertificate"] = "CA certificate (PEM/DER) that every peer's certificate must be issued by",
        ["Logging:Level"] = "Debug, Information, Warning or Error (default Information)",
        ["Logging:Format"] = "console log format: simple or json (default simple)",
    };

    private static readonly HashSet<string> ListSettings = new(StringComparer.OrdinalIgnoreCase) { "Cluster:SeedNodes", "Node:ImageDirectories", "Node:SnapshotDirectories" };

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9_-]*$")]
    private static partial Regex SystemName();

    [GeneratedRegex(@"^\s*(?<n>[0-9]+(\.[0-9]+)?)\s*(?<unit>ms|s|m|min)?\s*$", RegexOptions.IgnoreCase)]
    private static partial Regex Duration();

    /// <summary>Loads the settings. <paramref name="flags"/> maps setting names to values given on the command line.</summary>
    public static NodeSettings Load(string? configFile, IReadOnlyDictionary<string, IReadOnlyList<string>> flags, IDictionary environment)
    {
        var merged = new Dictionary<string, IReadOnlyList<string>>(StringComparer.OrdinalIgnoreCase);
        if (configFile is not null)
        {
            var fromFile = FromFile(configFile);
            // A file with a secret in it is held to the rule of secret files.
            if (fromFile.Keys.FirstOrDefault(k => k.Equals("Api:Token", StringComparison.OrdinalIgnoreCase) || k.Equals("Tls:Password", StringComparison.OrdinalIgnoreCase)) is { } secret)
                SecretFiles.ReadBytes($"--config (it holds {secret})", Path.GetFullPath(configFile));
            Merge(merged, fromFile, $"file {configFile}");
        }
        Merge(merged, FromEnvironment(environment), "the environment");
        Merge(merged, flags, "the command line");
        return Build(merged);
    }

    private static void Merge(Dictionary<string, IReadOnlyList<string>> into, IReadOnlyDictionary<string, IReadOnlyList<string>> source, string where)
    {
        foreach (var (key, values) in source)
        {
            if (!Known.ContainsKey(key))
                throw new NodeConfigException(key, $"unknown setting (in {where}); known settings: {string.Join(", ", Known.Keys)}");
            into[key] = values;
        }
    }

    private static Dictionary<string, IReadOnlyList<string>> FromFile(string path)
    {
        var full = Path.GetFullPath(path);
        if (!File.Exists(full)) throw new NodeConfigException("--config", $"{full} does not exist");
        IConfigurationRoot root;
        try
        {
            root = new ConfigurationBuilder().AddJsonFile(full, optional: false, reloadOnChange: false).Build();
        }
        catch (Exception e) when (e is InvalidDataException or FormatException or IOException or System.Text.Json.JsonException)
        {
            throw new NodeConfigException("--config", $"{full} is not a valid JSON settings file: {(e.InnerException ?? e).Message}");
        }
        return Collect(root.AsEnumerable().Where(kv => kv.Value is not null).Select(kv => (kv.Key, kv.Value!)));
    }

    private static Dictionary<string, IReadOnlyList<string>> FromEnvironment(IDictionary environment)
    {
        var pairs = new List<(string, string)>();
        foreach (DictionaryEntry e in environment)
        {
            if (e.Key is not string name || !name.StartsWith(EnvironmentPrefix, StringComparison.OrdinalIgnoreCase) || !name.Contains("__")) continue;
            var key = name[EnvironmentPrefix.Length..].Replace("__", ":");
            var value = e.Value as string ?? "";
            // A list may be given as one comma-separated variable.
            if (ListSettings.Contains(key))
            {
                var items = value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
                for (int i = 0; i < items.Length; i++) pairs.Add(($"{key}:{i}", items[i]));
                if (items.Length == 0) pairs.Add((key, ""));
            }
            else
            {
                pairs.Add((key, value));
            }
        }
        return Collect(pairs);
    }

    // Flattened keys ("Cluster:SeedNodes:0") become one setting with a list of values, in index order.
    private static Dictionary<string, IReadOnlyList<string>> Collect(IEnumerable<(string Key, string Value)> pairs)
    {
        var lists = new Dictionary<string, SortedDictionary<int, string>>(StringComparer.OrdinalIgnoreCase);
        var result = new Dictionary<string, IReadOnlyList<string>>(StringComparer.OrdinalIgnoreCase);
        foreach (var (key, value) in pairs)
        {
            var parts = key.Split(':');
            if (parts.Length > 1 && int.TryParse(parts[^1], NumberStyles.None, CultureInfo.InvariantCulture, out var index))
            {
                var listKey = string.Join(':', parts[..^1]);
                if (!lists.TryGetValue(listKey, out var list)) lists[listKey] = list = new SortedDictionary<int, string>();
                list[index] = value;
            }
            else if (!Known.ContainsKey(key) && Known.Keys.Any(k => k.StartsWith(key + ":", StringComparison.OrdinalIgnoreCase)) && value.Length == 0)
            {
                // An empty section ("Tls": {}) carries no setting.
            }
            else
            {
                result[key] = ListSettings.Contains(key) && value.Length == 0 ? [] : [value];
            }
        }
        foreach (var (key, list) in lists) result[key] = list.Values.ToList();
        return result;
    }

    private static NodeSettings Build(Dictionary<string, IReadOnlyList<string>> s)
    {
        string? One(string key)
        {
            if (!s.TryGetValue(key, out var values)) return null;
            if (ListSettings.Contains(key)) throw new InvalidOperationException(key);
            if (values.Count != 1) throw new NodeConfigException(key, "takes one value, not a list");
            return string.IsNullOrWhiteSpace(values[0]) ? null : values[0].Trim();
        }

        var cluster = One("Cluster:Name") ?? "actorvisor";
        if (!SystemName().IsMatch(cluster))
            throw new NodeConfigException("Cluster:Name", $"'{cluster}' is not a cluster name: letters, digits, '-' and '_', starting with a letter or digit");

        var port = One("Node:Port") is { } portText ? ParsePort("Node:Port", portText) : 4053;
        var host = One("Node:Host") ?? "127.0.0.1";
        if (host.Any(c => char.IsWhiteSpace(c) || c is '/' or '@')) throw new NodeConfigException("Node:Host", $"'{host}' is not a host name or address");
        var publicHost = One("Node:PublicHost");
        if (publicHost is not null && publicHost.Any(c => char.IsWhiteSpace(c) || c is '/' or '@'))
            throw new NodeConfigException("Node:PublicHost", $"'{publicHost}' is not a host name");
        if (publicHost is null && host is "0.0.0.0" or "::")
            throw new NodeConfigException("Node:PublicHost", $"is required when Node:Host is {host}: other nodes need a name to reach this one by");

        var name = One("Node:Name") ?? $"{Environment.MachineName}-{port}";
        if (ApiValidator.Name("Node:Name", name) is { } badName) throw new NodeConfigException("Node:Name", badName.Message["Node:Name: ".Length..]);

        var seeds = (s.GetValueOrDefault("Cluster:SeedNodes") ?? []).Select((seed, i) => ParseSeed(seed, i, cluster)).ToList();

        var dataDir = One("Node:DataDir") ?? DefaultDataDir(name);
        dataDir = Path.GetFullPath(Environment.ExpandEnvironmentVariables(dataDir));
        try
        {
            Directory.CreateDirectory(dataDir);
            var probe = Path.Combine(dataDir, ".write-probe");
            File.WriteAllText(probe, "");
            File.Delete(probe);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new NodeConfigException("Node:DataDir", $"{dataDir} cannot be created or written: {e.Message}");
        }

        IReadOnlyList<string> imageDirs;
        if (s.TryGetValue("Node:ImageDirectories", out var dirs) && dirs.Count > 0)
        {
            imageDirs = dirs.Select(d => Path.GetFullPath(d, dataDir)).ToList();
            foreach (var d in imageDirs)
                if (!Directory.Exists(d)) throw new NodeConfigException("Node:ImageDirectories", $"{d} does not exist");
        }
        else
        {
            var images = Path.Combine(dataDir, "images");
            Directory.CreateDirectory(images);
            imageDirs = [images];
        }

        IReadOnlyList<string> snapshotDirs;
        if (s.TryGetValue("Node:SnapshotDirectories", out var sdirs) && sdirs.Count > 0)
        {
            snapshotDirs = sdirs.Select(d => Path.GetFullPath(d, dataDir)).ToList();
            foreach (var d in snapshotDirs)
                if (!Directory.Exists(d)) throw new NodeConfigException("Node:SnapshotDirectories", $"{d} does not exist");
        }
        else
        {
            var snapshots = Path.Combine(dataDir, "snapshots");
            Directory.CreateDirectory(snapshots);
            snapshotDirs = [snapshots];
        }

        var accelerator = One("Node:Accelerator") switch
        {
            null => AcceleratorPreference.Auto,
            var a when Enum.TryParse<AcceleratorPreference>(a, ignoreCase: true, out var p) && Enum.IsDefined(p) && !char.IsDigit(a[0]) => p,
            var a => throw new NodeConfigException("Node:Accelerator", $"'{a}' is not an accelerator (auto, kvm, software)"),
        };

        int vcpus = Environment.ProcessorCount * 4;
        if (One("Capacity:Vcpus") is { } vcpuText && (!int.TryParse(vcpuText, NumberStyles.None, CultureInfo.InvariantCulture, out vcpus) || vcpus < 1 || vcpus > 65536))
            throw new NodeConfigException("Capacity:Vcpus", $"'{vcpuText}' is not a number of vCPUs (1..65536)");

        ulong memory = (ulong)GC.GetGCMemoryInfo().TotalAvailableMemoryBytes / 2;
        if (One("Capacity:Memory") is { } memText)
        {
            if (!ByteSize.TryParse(memText, out memory, out var sizeError)) throw new NodeConfigException("Capacity:Memory", sizeError);
            if (memory < 1UL << 20) throw new NodeConfigException("Capacity:Memory", $"'{memText}' is less than 1 MiB");
        }

        var token = One("Api:Token");
        if (One("Api:TokenFile") is { } tokenFile)
        {
            if (token is not null) throw new NodeConfigException("Api:TokenFile", "set either Api:Token or Api:TokenFile, not both");
            token = ReadSecret("Api:TokenFile", tokenFile, dataDir);
        }
        if (token is { Length: > ApiValidator.MaxTokenLength }) throw new NodeConfigException("Api:Token", $"is longer than {ApiValidator.MaxTokenLength} characters");

        var level = One("Logging:Level") ?? "Information";
        if (!new[] { "Debug", "Information", "Warning", "Error" }.Contains(level, StringComparer.OrdinalIgnoreCase))
            throw new NodeConfigException("Logging:Level", $"'{level}' is not a level (Debug, Information, Warning, Error)");

        var logFormat = (One("Logging:Format") ?? "simple").ToLowerInvariant();
        if (logFormat is not ("simple" or "json")) throw new NodeConfigException("Logging:Format", $"'{One("Logging:Format")}' is not a log format (simple, json)");
        System.Net.IPEndPoint? http = null;
        if (One("Node:HttpEndpoint") is { } httpText && !System.Net.IPEndPoint.TryParse(httpText, out http))
            throw new NodeConfigException("Node:HttpEndpoint", $"'{httpText}' is not an IP address and port, e.g. 127.0.0.1:9464");
        if (http is { Port: 0 } && One("Node:HttpEndpoint") is { } zero && !zero.EndsWith(":0", StringComparison.Ordinal))
            throw new NodeConfigException("Node:HttpEndpoint", $"'{zero}' has no port, e.g. 127.0.0.1:9464");

        return new NodeSettings
        {
            ClusterName = cluster,
            SeedHostPorts = seeds,
            StableAfter = One("Cluster:StableAfter") is { } st ? ParseDuration("Cluster:StableAfter", st) : TimeSpan.FromSeconds(20),
            HeartbeatPause = One("Cluster:HeartbeatPause") is { } hp ? ParseDuration("Cluster:HeartbeatPause", hp) : TimeSpan.FromSeconds(3),
            NodeName = name,
            Host = host,
            PublicHost = publicHost,
            Port = port,
            DataDir = dataDir,
            ImageDirectories = imageDirs,
            SnapshotDirectories = snapshotDirs,
            Accelerator = accelerator,
            Vcpus = vcpus,
            MemoryBytes = memory,
            ApiToken = token,
            Tls = LoadTls(One, dataDir),
            LogLevel = char.ToUpperInvariant(level[0]) + level[1..].ToLowerInvariant(),
            LogFormat = logFormat,
            HttpEndpoint = http,
        };
    }

    private static TlsSettings? LoadTls(Func<string, string?> one, string dataDir)
    {
        var cert = one("Tls:Certificate");
        var password = one("Tls:Password");
        var passwordFile = one("Tls:PasswordFile");
        var ca = one("Tls:CaCertificate");
        if (cert is null)
        {
            if (password is not null || passwordFile is not null || ca is not null)
                throw new NodeConfigException("Tls:Certificate", "is required when any other Tls setting is given");
            return null;
        }
        var certPath = Path.GetFullPath(cert, dataDir);
        if (!File.Exists(certPath)) throw new NodeConfigException("Tls:Certificate", $"{certPath} does not exist");
        if (password is not null && passwordFile is not null) throw new NodeConfigException("Tls:PasswordFile", "set either Tls:Password or Tls:PasswordFile, not both");
        if (passwordFile is not null) password = ReadSecret("Tls:PasswordFile", passwordFile, dataDir);
        if (ca is null) throw new NodeConfigException("Tls:CaCertificate", "is required with Tls:Certificate: peers are checked against it");
        var caPath = Path.GetFullPath(ca, dataDir);
        if (!File.Exists(caPath)) throw new NodeConfigException("Tls:CaCertificate", $"{caPath} does not exist");
        // It holds the private key: a secret file like the password (checked before the password is used on it).
        var pkcs12 = SecretFiles.ReadBytes("Tls:Certificate", certPath);
        try
        {
            using var loaded = X509CertificateLoader.LoadPkcs12(pkcs12, password ?? "");
            if (!loaded.HasPrivateKey) throw new NodeConfigException("Tls:Certificate", $"{certPath} holds no private key");
        }
        catch (CryptographicException e)
        {
            throw new NodeConfigException("Tls:Certificate", $"{certPath} cannot be read as PKCS#12 with the given password: {e.Message}");
        }
        try
        {
            using var _ = X509CertificateLoader.LoadCertificateFromFile(caPath);
        }
        catch (CryptographicException e)
        {
            throw new NodeConfigException("Tls:CaCertificate", $"{caPath} is not a certificate: {e.Message}");
        }
        return new TlsSettings(certPath, password ?? "", caPath);
    }

    private static string ReadSecret(string setting, string path, string dataDir) =>
        SecretFiles.ReadText(setting, Path.GetFullPath(path, dataDir));

    /// <summary>A port number 1..65535, or an error naming <paramref name="setting"/>.</summary>
    public static int ParsePort(string setting, string text) =>
        int.TryParse(text.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var port) && port is >= 1 and <= 65535
            ? port
            : throw new NodeConfigException(setting, $"'{text}' is not a port (1..65535)");

    /// <summary>"20s", "500ms", "2m" or a number of seconds.</summary>
    public static TimeSpan ParseDuration(string setting, string text)
    {
        var m = Duration().Match(text);
        if (!m.Success) throw new NodeConfigException(setting, $"'{text}' is not a duration (examples: 20s, 500ms, 2m)");
        var n = double.Parse(m.Groups["n"].Value, CultureInfo.InvariantCulture);
        var span = m.Groups["unit"].Value.ToLowerInvariant() switch
        {
            "ms" => TimeSpan.FromMilliseconds(n),
            "m" or "min" => TimeSpan.FromMinutes(n),
            _ => TimeSpan.FromSeconds(n),
        };
        if (span < TimeSpan.FromMilliseconds(200) || span > TimeSpan.FromHours(1))
            throw new NodeConfigException(setting, $"'{text}' is outside 200ms..1h");
        return span;
    }

    private static string ParseSeed(string seed, int index, string cluster)
    {
        var setting = $"Cluster:SeedNodes:{index}";
        var text = seed.Trim();
        string hostPort = text;
        var scheme = text.StartsWith("akka.tcp://", StringComparison.Ordinal) ? "akka.tcp://"
            : text.StartsWith("akka.ssl.tcp://", StringComparison.Ordinal) ? "akka.ssl.tcp://" : null;
        if (scheme is not null)
        {
            var at = text.IndexOf('@');
            if (at < 0) throw new NodeConfigException(setting, $"'{seed}' is not {scheme}NAME@host:port");
            var system = text[scheme.Length..at];
            if (system != cluster) throw new NodeConfigException(setting, $"'{seed}' names cluster '{system}', but Cluster:Name is '{cluster}'");
            hostPort = text[(at + 1)..].TrimEnd('/');
        }
        else if (text.Contains("://"))
        {
            throw new NodeConfigException(setting, $"'{seed}' is not host:port or akka.tcp://NAME@host:port");
        }
        var colon = hostPort.LastIndexOf(':');
        if (colon <= 0) throw new NodeConfigException(setting, $"'{seed}' has no port (host:port)");
        var port = ParsePort(setting, hostPort[(colon + 1)..]);
        return $"{hostPort[..colon]}:{port}";
    }

    private static string DefaultDataDir(string name) =>
        Environment.UserName == "root"
            ? "/var/lib/actorvisor"
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".local", "state", "actorvisor", name);
}
