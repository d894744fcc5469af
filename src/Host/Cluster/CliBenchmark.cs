using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using Actorvisor.Host.Api.Client;
using Actorvisor.Host.Api.V1;
using Actorvisor.Host.Bench;

namespace Actorvisor.Host.Cluster;

/// <summary>
/// `bench cli`: what a user waits for when typing a CLI command. Starts a loopback cluster of <c>nodes</c> child
/// processes with TLS and an API token (a throw-away CA; n1 also serves HTTPS), creates <c>vms</c> tiny VMs, then
/// runs separate `actorvisor` processes, in each of <c>rounds</c> rounds: `--version` (the process-start baseline),
/// `vm list` and `vm describe` as a cluster client, and the same two through n1's HTTP/JSON API (`--http`),
/// the order reversed every other round. Each figure is the median over the rounds with min and max; every
/// run's time goes to the progress writer.
/// </summary>
public static class CliBenchmark
{
    private static readonly string[] Kinds = ["process_start", "list", "describe", "list_http", "describe_http"];

    /// <summary>Runs the benchmark; returns its figures in print order.</summary>
    public static async Task<IReadOnlyList<(string Key, string Value)>> RunAsync(int nodeCount, int vmCount, int rounds, string accelerator, TextWriter progress)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(nodeCount, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(vmCount, 1);
        var root = Directory.CreateTempSubdirectory("actorvisor-bench-cli-").FullName;
        var nodes = new List<NodeProcess>();
        try
        {
            using var certificates = new LoopbackCertificates(Path.Combine(root, "tls"), "bench-ca");
            const string password = "bench-certificate-password";
            var passwordFile = Path.Combine(root, "tls", "password");
            LoopbackCertificates.WriteSecret(passwordFile, System.Text.Encoding.UTF8.GetBytes(password));
            var token = Convert.ToHexString(RandomNumberGenerator.GetBytes(24)).ToLowerInvariant();
            var tokenFile = Path.Combine(root, "token");
            LoopbackCertificates.WriteSecret(tokenFile, System.Text.Encoding.UTF8.GetBytes(token));
            var clientCertificate = certificates.Issue("client", password);

            var ports = LoopbackCluster.FreePorts(nodeCount + 1);
            int httpPort = ports[nodeCount];
            var seeds = ports.Take(Math.Min(2, nodeCount)).SelectMany(p => new[] { "--seed", $"127.0.0.1:{p}" }).ToArray();
            var clock = Stopwatch.StartNew();
            for (int i = 0; i < nodeCount; i++)
            {
                var name = $"n{i + 1}";
                var certificate = certificates.Issue(name, password);
                string[] http = i == 0 ? ["--http", $"127.0.0.1:{httpPort}"] : [];
                nodes.Add(NodeProcess.Start(name,
                [
                    "--name", name, "--port", ports[i].ToString(CultureInfo.InvariantCulture), .. seeds,
                    "--data-dir", Path.Combine(root, name), "--vcpus", "64", "--memory", "4G", "--accelerator", accelerator,
                    "--api-token-file", tokenFile,
                    "--tls-certificate", certificate, "--tls-password-file", passwordFile, "--tls-ca", certificates.CaPath,
                    .. http,
                ]));
            }
            var contacts = ports.Take(Math.Min(2, nodeCount)).Select(p => $"127.0.0.1:{p}").ToArray();
            var requestTimeout = TimeSpan.FromSeconds(30);
            var tls = new ClientTls(clientCertificate, password, certificates.CaPath);
            await using var client = ApiClient.Connect(new ApiClientOptions("actorvisor", contacts, token, requestTimeout, tls));
            await LoopbackCluster.WaitForHypervisorsAsync(client, nodes, nodeCount, TimeSpan.FromSeconds(120), requestTimeout).ConfigureAwait(false);
            for (int i = 0; i < vmCount; i++)
            {
                var reply = await client.RequestAsync(new CreateVmRequest(new ApiVmSpec($"tiny-{i}", 1, 1UL << 20, "hello"))).ConfigureAwait(false);
                if (reply is not VmReply) throw new InvalidOperationException($"creating tiny-{i} failed: {reply}");
            }
            progress.WriteLine($"[bench] cluster of {nodeCount} (TLS, token) up with {vmCount} VMs in {clock.Elapsed.TotalSeconds:0.0} s");

            string[] secrets = ["--token-file", tokenFile, "--tls-ca", certificates.CaPath];
            string[] viaCluster = ["--node", string.Join(",", contacts), .. secrets, "--tls-certificate", clientCertificate, "--tls-password-file", passwordFile];
            string[] viaHttp = ["--http", $"https://127.0.0.1:{httpPort}", .. secrets];
            var describeName = $"tiny-{vmCount - 1}";
            var runs = new Dictionary<string, (string[] Args, string Expect)>(StringComparer.Ordinal)
            {
                ["process_start"] = (["--version"], ""),
                ["list"] = (["vm", "list", .. viaCluster], describeName),
                ["describe"] = (["vm", "describe", describeName, .. viaCluster], describeName),
                ["list_http"] = (["vm", "list", .. viaHttp], describeName),
                ["describe_http"] = (["vm", "describe", describeName, .. viaHttp], describeName),
            };
            // One unmeasured run of each first: the executable's files into the page cache, the node's first-request paths warm.
            foreach (var kind in Kinds) await RunOnceAsync(kind, runs[kind].Args, runs[kind].Expect).ConfigureAwait(false);

            var samples = Kinds.ToDictionary(k => k, k => new RoundSamples($"cli.{k}_p50_ms", "0.0"), StringComparer.Ordinal);
            for (int round = 0; round < rounds; round++)
            {
                var order = round % 2 == 0 ? Kinds : Kinds.Reverse().ToArray();
                foreach (var kind in order) samples[kind].Add(await RunOnceAsync(kind, runs[kind].Args, runs[kind].Expect).ConfigureAwait(false));
                progress.WriteLine($"[bench] round {round}: " + string.Join(", ", Kinds.Select(k => $"{k} {samples[k].Values[^1]:0.0} ms")));
            }
            var status = (ClusterStatusReply)await client.RequestAsync(new ClusterStatusRequest()).ConfigureAwait(false);
            return
            [
                ("cli.nodes", nodeCount.ToString(CultureInfo.InvariantCulture)),
                ("cli.vms", vmCount.ToString(CultureInfo.InvariantCulture)),
                ("cli.rounds", rounds.ToString(CultureInfo.InvariantCulture)),
                ("cli.accelerator", string.Join(",", status.Nodes.Select(n => n.Accelerator).Distinct())),
                .. Kinds.SelectMany(k => samples[k].Figures()),
            ];
        }
        finally
        {
            for (int i = nodes.Count - 1; i >= 0; i--) await nodes[i].DisposeAsync().ConfigureAwait(false);
            try
            {
                Directory.Delete(root, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }

    // One `actorvisor ARGS` process from start to exit in ms; throws unless it exits 0 printing `expect`.
    private static async Task<double> RunOnceAsync(string kind, string[] args, string expect)
    {
        using var process = new Process { StartInfo = SelfProcess.StartInfo(args) };
        long start = Stopwatch.GetTimestamp();
        process.Start();
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(120)).ConfigureAwait(false);
        double ms = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        var output = await stdout.ConfigureAwait(false);
        if (process.ExitCode != 0 || output.Length == 0 || !output.Contains(expect, StringComparison.Ordinal))
            throw new InvalidOperationException($"`actorvisor {string.Join(' ', args)}` ({kind}) exited {process.ExitCode}:\n{output}\n{await stderr.ConfigureAwait(false)}");
        return ms;
    }
}
