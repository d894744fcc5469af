using System.CommandLine;

namespace Actorvisor.Host.Cli;

/// <summary>
/// <c>--http URL</c> (env ACTORVISOR_HTTP) for the commands that can ask a node's HTTP/JSON API instead of joining the
/// cluster as a client (<c>vm list</c>, <c>vm describe</c>): no actor system is started. The token comes from the
/// usual options (--token, --token-file, ACTORVISOR_TOKEN, ACTORVISOR_TOKEN_FILE); for an https URL, --tls-ca (or
/// ACTORVISOR_TLS_CA) is the CA the node's certificate must chain to (no client certificate is needed). The plain
/// forms of these command lines do not come here: <see cref="QuickVmCommandLine"/> runs them before the command tree is built.
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

    /// <summary>Runs <paramref name="body"/> with the query of the node at <paramref name="url"/>; bad options are exit 2.</summary>
    public static Task<int> RunAsync(ParseResult parse, ClusterConnectionOptions connection, string url, Func<HttpVmQuery, Task<int>> body)
    {
        ArgumentNullException.ThrowIfNull(parse);
        ArgumentNullException.ThrowIfNull(connection);
        ArgumentNullException.ThrowIfNull(body);
        var query = HttpVmQuery.Resolve(url, parse.GetValue(connection.Token), parse.GetValue(connection.TokenFile), parse.GetValue(connection.TlsCa),
            parse.GetValue(connection.Timeout), parse.GetValue(connection.Json), out var error);
        return query is null ? Task.FromResult(Usage(error)) : body(query);
    }

    private static int Usage(string message)
    {
        Console.Error.WriteLine($"actorvisor: {message}");
        return ExitCodes.Usage;
    }
}
