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
/// `vm list` and `vm describe` as a user configured as deploy/README.md says types them (no options; the node's HTTP
/// endpoint, token file and CA in ACTORVISOR_HTTP, ACTORVISOR_TOKEN_FILE and ACTORVISOR_TLS_CA: the HTTP path),
/// and the same two as a cluster client (`--node` with the client certificate: <c>list_cluster</c>,
/// <c>describe_cluster</c>), the order reversed every other round. With a second executable (<c>compare</c>, e.g.
/// the ReadyToRun publish next to a `dotnet build`), every run is made with both, alternately first, under
/// <c>cli.compare.*</c>. Each figure is the median over the rounds with min and max, in wall time and in the CPU time
/// of the process (<see cref="ChildCpuTime"/>: what the machine's load does not stretch); the load average at the start
/// and the end goes with them, and every run's time to the progress writer.
/// </summary>
public static class CliBenchmark
{
    private static readonly string[] Kinds = ["process_start", "list", "describe", "list_cluster", "describe_cluster"];

    /// <summary>Runs the benchmark; returns its figures in print order.</summary>
    public static async Task<IReadOnlyList<(string Key, string Value)>> RunAsync(int nodeCount, int vmCount, int rounds, string accelerator, TextWriter progress,
        string? compare = null)
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

            string[] viaCluster = ["--node", string.Join(",", contacts), "--token-file", tokenFile, "--tls-ca", certificates.CaPath,
                "--tls-certificate", clientCertificate, "--tls-password-file", passwordFile];
            var configured = new Dictionary<string, string>(StringComparer.Ordinal)
            {
                ["ACTORVISOR_HTTP"] = $"https://127.0.0.1:{httpPort}", ["ACTORVISOR_TOKEN_FILE"] = tokenFile, ["ACTORVISOR_TLS_CA"] = certificates.CaPath,
            };
            var describeName = $"tiny-{vmCount - 1}";
            var runs = new Dictionary<string, (string[] Args, IReadOnlyDictionary<string, string>? Environment, string Expect)>(StringComparer.Ordinal)
            {
                ["process_start"] = (["--version"], null, ""),
                ["list"] = (["vm", "list"], configured, describeName),
                ["describe"] = (["vm", "describe", describeName], configured, describeName),
                ["list_cluster"] = (["vm", "list", .. viaCluster], null, describeName),
                ["describe_cluster"] = (["vm", "describe", describeName, .. viaCluster], null, describeName),
            };
            string self = Environment.ProcessPath ?? throw new InvalidOperationException("the path of this executable is unknown");
            string[] builds = compare is null ? [""] : ["", "compare."];
            string Executable(string build) => build.Length == 0 ? self : compare!;
            // One unmeasured run of each first: the executables' files into the page cache, the node's first-request paths warm.
            foreach (var build in builds)
                foreach (var kind in Kinds) await RunOnceAsync(Executable(build), kind, runs[kind]).ConfigureAwait(false);

            var load = new List<(string Key, string Value)> { ("cli.load_avg_start", LoadAverage()) };
            var wall = new Dictionary<string, RoundSamples>(StringComparer.Ordinal);
            var cpu = new Dictionary<string, RoundSamples>(StringComparer.Ordinal);
            foreach (var build in builds)
            {
                foreach (var kind in Kinds)
                {
                    wall[build + kind] = new RoundSamples($"cli.{build}{kind}_p50_ms", "0.0");
                    cpu[build + kind] = new RoundSamples($"cli.{build}{kind}_cpu_p50_ms", "0.0");
                }
            }
            for (int round = 0; round < rounds; round++)
            {
                var order = round % 2 == 0 ? Kinds : Kinds.Reverse().ToArray();
                var buildOrder = round % 2 == 0 ? builds : builds.Reverse().ToArray();
                foreach (var kind in order)
                {
                    foreach (var build in buildOrder)
                    {
                        var (ms, cpuMs) = await RunOnceAsync(Executable(build), kind, runs[kind]).ConfigureAwait(false);
                        wall[build + kind].Add(ms);
                        cpu[build + kind].Add(cpuMs);
                    }
                }
                foreach (var build in builds)
                {
                    progress.WriteLine($"[bench] round {round}{(build.Length == 0 ? "" : $" ({build.TrimEnd('.')})")}: "
                        + string.Join(", ", Kinds.Select(k => $"{k} {wall[build + k].Values[^1]:0.0} ms (cpu {cpu[build + k].Values[^1]:0.0})")));
                }
            }
            load.Add(("cli.load_avg_end", LoadAverage()));
            var status = (ClusterStatusReply)await client.RequestAsync(new ClusterStatusRequest()).ConfigureAwait(false);
            return
            [
                ("cli.nodes", nodeCount.ToString(CultureInfo.InvariantCulture)),
                ("cli.vms", vmCount.ToString(CultureInfo.InvariantCulture)),
                ("cli.rounds", rounds.ToString(CultureInfo.InvariantCulture)),
                ("cli.accelerator", string.Join(",", status.Nodes.Select(n => n.Accelerator).Distinct())),
                ("cli.executable", self),
                .. compare is null ? [] : new[] { ("cli.compare.executable", compare) },
                .. load,
                .. builds.SelectMany(b => Kinds.SelectMany(k => wall[b + k].Figures().Concat(cpu[b + k].Figures()))),
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

    // One `EXECUTABLE ARGS` process from start to exit: wall and CPU ms; throws unless it exits 0 printing `expect`.
    private static async Task<(double WallMs, double CpuMs)> RunOnceAsync(string executable, string kind,
        (string[] Args, IReadOnlyDictionary<string, string>? Environment, string Expect) run)
    {
        var info = SelfProcess.StartInfo(run.Args);
        info.FileName = executable;
        if (Path.GetFileNameWithoutExtension(executable) != "dotnet" && info.ArgumentList.Count > run.Args.Length) info.ArgumentList.RemoveAt(0);
        foreach (var (key, value) in run.Environment ?? new Dictionary<string, string>()) info.Environment[key] = value;
        using var process = new Process { StartInfo = info };
        var cpuBefore = ChildCpuTime.Total();
        long start = Stopwatch.GetTimestamp();
        process.Start();
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(120)).ConfigureAwait(false);
        double ms = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        double cpuMs = (ChildCpuTime.Total() - cpuBefore).TotalMilliseconds;
        var output = await stdout.ConfigureAwait(false);
        if (process.ExitCode != 0 || output.Length == 0 || !output.Contains(run.Expect, StringComparison.Ordinal))
            throw new InvalidOperationException($"`{executable} {string.Join(' ', run.Args)}` ({kind}) exited {process.ExitCode}:\n{output}\n{await stderr.ConfigureAwait(false)}");
        return (ms, cpuMs);
    }

    // The 1-minute load average of the machine (Linux), what the wall figures were measured under.
    private static string LoadAverage() =>
        File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Split(' ')[0] : "unknown";
}
