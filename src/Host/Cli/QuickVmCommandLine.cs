using System.Globalization;
using Actorvisor.Host.Api.V1;

namespace Actorvisor.Host.Cli;

/// <summary>
/// The quick start of the commands typed most often: `vm list` and `vm describe NAME` answered by a node's HTTP API
/// (--http URL or ACTORVISOR_HTTP) are recognized here, before the command tree, the console library or any actor
/// code is loaded, and run through <see cref="HttpVmQuery"/>: the same query, output and exit codes as the full
/// command line gives them. Only the plain form is recognized (<c>--option value</c>, each option once, the options
/// these two commands take); anything else (help, <c>--option=value</c>, a typo, no HTTP URL) returns null and goes
/// to the full command line, which parses and reports it as always.
/// </summary>
public sealed class QuickVmCommandLine
{
    // The options of `vm list` / `vm describe` that take a value; the cluster client's are accepted and unused, as in the full path.
    private static readonly string[] ValueOptions =
        ["--http", "--token", "--token-file", "--tls-ca", "--timeout", "--on", "--node", "--cluster", "--tls-certificate", "--tls-password-file"];

    private readonly Dictionary<string, string> _options;
    private readonly string? _name;
    private readonly bool _json;
    private readonly string _url;

    private QuickVmCommandLine(bool describe, Dictionary<string, string> options, string? name, bool json, string url)
    {
        Describe = describe;
        _options = options;
        _name = name;
        _json = json;
        _url = url;
    }

    /// <summary>`vm describe` (else `vm list`).</summary>
    public bool Describe { get; }

    /// <summary>The quick form of <paramref name="args"/>, or null when the full command line is to handle them.</summary>
    public static QuickVmCommandLine? Recognize(IReadOnlyList<string> args)
    {
        ArgumentNullException.ThrowIfNull(args);
        if (args.Count < 2 || args[0] != "vm" || args[1] is not ("list" or "describe")) return null;
        bool describe = args[1] == "describe";
        var options = new Dictionary<string, string>(StringComparer.Ordinal);
        string? name = null;
        bool json = false;
        for (int i = 2; i < args.Count; i++)
        {
            var arg = args[i];
            if (arg == "--json")
            {
                if (json) return null;
                json = true;
            }
            else if (ValueOptions.Contains(arg) && (arg != "--on" || !describe))
            {
                if (i + 1 >= args.Count || args[i + 1].StartsWith('-') || !options.TryAdd(arg, args[i + 1])) return null;
                i++;
            }
            else if (describe && name is null && !arg.StartsWith('-'))
            {
                name = arg;
            }
            else
            {
                return null;
            }
        }
        if (describe && name is null) return null;
        var url = options.GetValueOrDefault("--http") ?? (Environment.GetEnvironmentVariable("ACTORVISOR_HTTP") is { Length: > 0 } v ? v : null);
        if (url is null) return null;
        if (options.TryGetValue("--timeout", out var timeout) && !double.TryParse(timeout, NumberStyles.Float, CultureInfo.InvariantCulture, out _)) return null;
        return new QuickVmCommandLine(describe, options, name, json, url);
    }

    /// <summary>Runs the command; returns the process exit code.</summary>
    public async Task<int> RunAsync()
    {
        if (Describe && ApiValidator.Name("name", _name!) is { } invalid) return Usage(invalid.Message);
        double timeout = _options.TryGetValue("--timeout", out var t) ? double.Parse(t, NumberStyles.Float, CultureInfo.InvariantCulture) : ClusterConnectionOptions.DefaultTimeoutSeconds;
        var query = HttpVmQuery.Resolve(_url, _options.GetValueOrDefault("--token"), _options.GetValueOrDefault("--token-file"), _options.GetValueOrDefault("--tls-ca"),
            timeout, _json, out var error);
        if (query is null) return Usage(error);
        CliTiming.Mark("command line read");
        return Describe ? await query.DescribeAsync(_name!).ConfigureAwait(false) : await query.ListAsync(_options.GetValueOrDefault("--on")).ConfigureAwait(false);
    }

    private static int Usage(string message)
    {
        Console.Error.WriteLine($"actorvisor: {message}");
        return ExitCodes.Usage;
    }
}
