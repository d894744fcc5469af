using System.CommandLine;

namespace Actorvisor.Host.Cli;

/// <summary>
/// <c>--http URL</c> (env ACTORVISOR_HTTP) for the commands that can ask a node's HTTP/JSON API instead of joining the
/// cluster as a client (<c>vm list</c>, <c>vm describe</c>): no actor system is started. The token comes from the
/// usual options (--token, --token-file, ACTORVISOR_TOKEN, ACTORVISOR_TOKEN_FILE); for an https URL, --tls-ca (or
/// ACTORVISOR_TLS_CA) is the CA the node's certificate must chain to (no client certificate is needed).
/// </summary>
public sealed class HttpApiOption
{
    /// <summary>--http URL</summary>
    public Option<string?> Url { get; } = new("--http")
    {
        Description = "ask this node's HTTP API (http[s]://HOST:PORT, its Node:HttpEndpoint) instead of joining the cluster as a client; quicker (env ACTORVISOR_HTTP)",
    };

    /// <summary>Adds the option to <paramref name="command"/>.</summary>
    public void AddTo(Command command) => command.Options.Add(Url);

    /// <summary>The URL when one is given (option or environment), null when the cluster client is to be used.</summary>
    public string? Given(ParseResult parse) =>
        parse.GetValue(Url) ?? (Environment.GetEnvironmentVariable("ACTORVISOR_HTTP") is { Length: > 0 } v ? v : null);

    /// <summary>Runs <paramref name="body"/> with a client of the node at the given URL; bad options are exit 2.</summary>
    public async Task<int> RunAsync(ParseResult parse, ClusterConnectionOptions connection, string url, Func<HttpApiClient, bool, Task<int>> body)
    {
        ArgumentNullException.ThrowIfNull(connection);
        string? Env(string name) => Environment.GetEnvironmentVariable(name) is { Length: > 0 } v ? v : null;
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https") || uri.AbsolutePath.Trim('/').Length > 0)
            return Usage($"--http: '{url}' is not http://HOST:PORT or https://HOST:PORT");
        var timeout = parse.GetValue(connection.Timeout);
        if (timeout <= 0 || timeout > 3600) return Usage($"--timeout: {timeout} is not a number of seconds in (0, 3600]");
        var token = parse.GetValue(connection.Token) ?? Env("ACTORVISOR_TOKEN");
        if (token is null && (parse.GetValue(connection.TokenFile) ?? Env("ACTORVISOR_TOKEN_FILE")) is { } tokenFile)
        {
            // Checked as the cluster-client path and the node check theirs: owner-only, or refused naming the fix.
            if (!ClusterConnectionOptions.TryReadSecret("--token-file", tokenFile, out token, out var secretError)) return Usage(secretError);
        }
        var ca = parse.GetValue(connection.TlsCa) ?? Env("ACTORVISOR_TLS_CA");
        if (ca is not null && !File.Exists(ca)) return Usage($"--tls-ca: {Path.GetFullPath(ca)} does not exist");
        using var client = new HttpApiClient(uri, token, TimeSpan.FromSeconds(timeout), ca);
        return await body(client, parse.GetValue(connection.Json)).ConfigureAwait(false);
    }

    private static int Usage(string message)
    {
        Console.Error.WriteLine($"actorvisor: {message}");
        return ExitCodes.Usage;
    }
}
