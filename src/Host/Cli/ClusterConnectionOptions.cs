using System.CommandLine;
using Actorvisor.Host.Api.Client;
using Actorvisor.Host.Node;

namespace Actorvisor.Host.Cli;

/// <summary>
/// The options every cluster client command takes: where the cluster is (--node, --cluster), the API token,
/// TLS, the request timeout and --json. Each falls back to an ACTORVISOR_* environment variable.
/// </summary>
public sealed class ClusterConnectionOptions
{
    /// <summary>The contact node used when neither --node nor ACTORVISOR_NODE is given.</summary>
    public const string DefaultNode = "127.0.0.1:4053";

    /// <summary>Seconds a request may take when --timeout is not given.</summary>
    public const double DefaultTimeoutSeconds = 30;

    /// <summary>--node [cluster@]host:port[,host:port...]</summary>
    public Option<string?> Node { get; } = new("--node") { Description = $"contact node(s), [CLUSTER@]HOST:PORT, comma-separated (env ACTORVISOR_NODE; default {DefaultNode})" };

    /// <summary>--cluster NAME</summary>
    public Option<string?> Cluster { get; } = new("--cluster") { Description = "cluster name (env ACTORVISOR_CLUSTER; default actorvisor)" };

    /// <summary>--token TOKEN</summary>
    public Option<string?> Token { get; } = new("--token") { Description = "shared API token (env ACTORVISOR_TOKEN)" };

    /// <summary>--token-file FILE</summary>
    public Option<string?> TokenFile { get; } = new("--token-file") { Description = "file holding the API token (env ACTORVISOR_TOKEN_FILE)" };

    /// <summary>--tls-certificate FILE</summary>
    public Option<string?> TlsCertificate { get; } = new("--tls-certificate") { Description = "client certificate (.pfx) when the cluster runs TLS (env ACTORVISOR_TLS_CERTIFICATE)" };

    /// <summary>--tls-password-file FILE</summary>
    public Option<string?> TlsPasswordFile { get; } = new("--tls-password-file") { Description = "file with the certificate's password (env ACTORVISOR_TLS_PASSWORD_FILE)" };

    /// <summary>--tls-ca FILE</summary>
    public Option<string?> TlsCa { get; } = new("--tls-ca") { Description = "CA certificate the nodes' certificates are issued by (env ACTORVISOR_TLS_CA)" };

    /// <summary>--timeout SECONDS</summary>
    public Option<double> Timeout { get; } = new("--timeout") { Description = "seconds a request may take", DefaultValueFactory = _ => DefaultTimeoutSeconds };

    /// <summary>--json</summary>
    public Option<bool> Json { get; } = new("--json") { Description = "print JSON (one document, or one line per stream message) instead of tables" };

    /// <summary>Adds every option to <paramref name="command"/>.</summary>
    public void AddTo(Command command)
    {
        foreach (var o in new Option[] { Node, Cluster, Token, TokenFile, TlsCertificate, TlsPasswordFile, TlsCa, Timeout, Json })
            command.Options.Add(o);
    }

    /// <summary>Resolves the options and environment into client options; false with a message naming the option when one is bad.</summary>
    public bool TryResolve(ParseResult parse, out ApiClientOptions options, out string error)
    {
        options = null!;
        error = "";
        string? Env(string name) => Environment.GetEnvironmentVariable(name) is { Length: > 0 } v ? v : null;
        var cluster = parse.GetValue(Cluster) ?? Env("ACTORVISOR_CLUSTER");
        var nodes = parse.GetValue(Node) ?? Env("ACTORVISOR_NODE") ?? DefaultNode;
        var contacts = new List<string>();
        foreach (var raw in nodes.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var text = raw;
            var at = text.IndexOf('@');
            if (at >= 0)
            {
                var named = text[..at];
                if (cluster is not null && cluster != named)
                {
                    error = $"--node: '{raw}' names cluster '{named}' but --cluster is '{cluster}'";
                    return false;
                }
                cluster = named;
                text = text[(at + 1)..];
            }
            var colon = text.LastIndexOf(':');
            if (colon <= 0)
            {
                error = $"--node: '{raw}' is not HOST:PORT";
                return false;
            }
            try
            {
                NodeSettingsLoader.ParsePort("--node", text[(colon + 1)..]);
            }
            catch (NodeConfigException e)
            {
                error = e.Message;
                return false;
            }
            contacts.Add(text);
        }
        if (contacts.Count == 0)
        {
            error = "--node: no contact node given";
            return false;
        }
        var timeout = parse.GetValue(Timeout);
        if (timeout <= 0 || timeout > 3600)
        {
            error = $"--timeout: {timeout} is not a number of seconds in (0, 3600]";
            return false;
        }
        var token = parse.GetValue(Token) ?? Env("ACTORVISOR_TOKEN");
        var tokenFile = parse.GetValue(TokenFile) ?? Env("ACTORVISOR_TOKEN_FILE");
        if (token is null && tokenFile is not null && !TryReadSecret("--token-file", tokenFile, out token, out error)) return false;

        ClientTls? tls = null;
        var cert = parse.GetValue(TlsCertificate) ?? Env("ACTORVISOR_TLS_CERTIFICATE");
        var ca = parse.GetValue(TlsCa) ?? Env("ACTORVISOR_TLS_CA");
        var passwordFile = parse.GetValue(TlsPasswordFile) ?? Env("ACTORVISOR_TLS_PASSWORD_FILE");
        if (cert is not null || ca is not null)
        {
            if (cert is null || !File.Exists(cert))
            {
                error = $"--tls-certificate: {(cert is null ? "is required with --tls-ca" : $"{Path.GetFullPath(cert)} does not exist")}";
                return false;
            }
            if (ca is null || !File.Exists(ca))
            {
                error = $"--tls-ca: {(ca is null ? "is required with --tls-certificate" : $"{Path.GetFullPath(ca)} does not exist")}";
                return false;
            }
            // The PKCS#12 file holds the client's private key: the same owner-only rule as the node's (read only to check it here).
            if (!TryReadSecret("--tls-certificate", cert, out _, out error)) return false;
            string? password = "";
            if (passwordFile is not null && !TryReadSecret("--tls-password-file", passwordFile, out password, out error)) return false;
            tls = new ClientTls(Path.GetFullPath(cert), password ?? "", Path.GetFullPath(ca));
        }
        options = new ApiClientOptions(cluster ?? "actorvisor", contacts, token, TimeSpan.FromSeconds(timeout), tls);
        return true;
    }

    // A client-side secret file is read as the node reads its own (SecretFiles): refused, naming the file and the fix
    // (chmod 600), when its group or other users may access it.
    internal static bool TryReadSecret(string option, string path, out string? secret, out string error)
    {
        secret = null;
        error = "";
        try
        {
            var bytes = SecretFiles.ReadBytes(option, Path.GetFullPath(path));
            secret = System.Text.Encoding.UTF8.GetString(bytes).Trim();
            return true;
        }
        catch (NodeConfigException e)
        {
            error = e.Message;
            return false;
        }
    }
}
