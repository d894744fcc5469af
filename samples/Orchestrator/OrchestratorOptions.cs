using Actorvisor.Host.Api.Client;
using Actorvisor.Host.Api.V1;

namespace Actorvisor.Samples.Orchestrator;

/// <summary>What the orchestrator is told on its command line: where the cluster is, how to authenticate, the fleet, and its policy.</summary>
/// <param name="Client">How to reach the cluster (contacts, token, TLS, request timeout).</param>
/// <param name="Fleet">The VMs to run.</param>
/// <param name="MaxRestarts">How often one VM is restarted before the orchestrator gives up on it.</param>
/// <param name="Duration">How long it watches at most.</param>
/// <param name="Settle">With <paramref name="ExitWhenSettled"/>: how long every VM must have been running (or given up on) before it stops watching.</param>
/// <param name="ExitWhenSettled">Stop watching once the fleet is settled instead of at the end of <paramref name="Duration"/>.</param>
/// <param name="Keep">Leave the fleet running at the end instead of destroying it.</param>
internal sealed record OrchestratorOptions(ApiClientOptions Client, IReadOnlyList<ApiVmSpec> Fleet, int MaxRestarts, TimeSpan Duration, TimeSpan Settle,
    bool ExitWhenSettled, bool Keep)
{
    /// <summary>The command line's syntax, printed on a usage error.</summary>
    public const string Usage = """
        usage: actorvisor-orchestrator --node HOST:PORT [--node ...] [--cluster NAME]
                 [--token-file FILE | --token TOKEN]
                 [--tls-certificate FILE.pfx --tls-password-file FILE --tls-ca FILE]
                 [--vm NAME=IMAGE[:VCPUS[:MEMORY_MIB]]]... (default: web-1, web-2, web-3 running "spin")
                 [--max-restarts N (3)] [--duration SECONDS (300)] [--exit-when-settled [--settle SECONDS (3)]] [--keep]
                 [--timeout SECONDS (30)]
        """;

    /// <summary>Parses <paramref name="args"/>; throws <see cref="ArgumentException"/> naming the option at fault.</summary>
    public static OrchestratorOptions Parse(IReadOnlyList<string> args)
    {
        var nodes = new List<string>();
        var fleet = new List<ApiVmSpec>();
        string cluster = "actorvisor";
        string? token = null, certificate = null, passwordFile = null, ca = null;
        int maxRestarts = 3;
        double duration = 300, settle = 3, timeout = 30;
        bool exitWhenSettled = false, keep = false;
        for (int i = 0; i < args.Count; i++)
        {
            string Value() => i + 1 < args.Count ? args[++i] : throw new ArgumentException($"{args[i]}: needs a value");
            switch (args[i])
            {
                case "--node": nodes.AddRange(Value().Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)); break;
                case "--cluster": cluster = Value(); break;
                case "--token": token = Value(); break;
                case "--token-file": token = File.ReadAllText(Value()).Trim(); break;
                case "--tls-certificate": certificate = Value(); break;
                case "--tls-password-file": passwordFile = Value(); break;
                case "--tls-ca": ca = Value(); break;
                case "--vm": fleet.Add(ParseVm(Value())); break;
                case "--max-restarts": maxRestarts = Number("--max-restarts", Value(), 0, 1000); break;
                case "--duration": duration = Number("--duration", Value(), 1, 86400); break;
                case "--settle": settle = Number("--settle", Value(), 0, 3600); break;
                case "--timeout": timeout = Number("--timeout", Value(), 1, 600); break;
                case "--exit-when-settled": exitWhenSettled = true; break;
                case "--keep": keep = true; break;
                default: throw new ArgumentException($"{args[i]}: unknown option");
            }
        }
        if (nodes.Count == 0) throw new ArgumentException("--node: at least one contact node is needed");
        if ((certificate, passwordFile, ca) is not (null, null, null) && (certificate is null || passwordFile is null || ca is null))
            throw new ArgumentException("--tls-certificate, --tls-password-file and --tls-ca go together");
        var tls = certificate is null ? null : new ClientTls(certificate, File.ReadAllText(passwordFile!).Trim(), ca!);
        if (fleet.Count == 0) fleet.AddRange(Enumerable.Range(1, 3).Select(n => new ApiVmSpec($"web-{n}", 1, 16UL << 20, "spin")));
        if (fleet.Select(v => v.Name).Distinct().Count() != fleet.Count) throw new ArgumentException("--vm: two VMs of the same name");
        foreach (var spec in fleet)
        {
            // The library's validator without the nodes' limits: the checks a client can make alone (the node makes the rest).
            if (ApiValidator.Spec(spec) is { } invalid) throw new ArgumentException($"--vm {spec.Name}: {invalid.Message}");
        }
        return new OrchestratorOptions(new ApiClientOptions(cluster, nodes, token, TimeSpan.FromSeconds(timeout), tls), fleet, maxRestarts,
            TimeSpan.FromSeconds(duration), TimeSpan.FromSeconds(settle), exitWhenSettled, keep);
    }

    // NAME=IMAGE[:VCPUS[:MEMORY_MIB]]
    private static ApiVmSpec ParseVm(string text)
    {
        var eq = text.IndexOf('=');
        if (eq <= 0 || eq == text.Length - 1) throw new ArgumentException($"--vm: '{text}' is not NAME=IMAGE[:VCPUS[:MEMORY_MIB]]");
        var parts = text[(eq + 1)..].Split(':');
        int vcpus = parts.Length > 1 ? Number("--vm", parts[1], 1, 1024) : 1;
        int memoryMib = parts.Length > 2 ? Number("--vm", parts[2], 1, 1 << 20) : 16;
        return new ApiVmSpec(text[..eq], vcpus, (ulong)memoryMib << 20, parts[0]);
    }

    private static int Number(string option, string text, int min, int max) =>
        int.TryParse(text, out var n) && n >= min && n <= max ? n : throw new ArgumentException($"{option}: '{text}' is not a number in {min}..{max}");
}
