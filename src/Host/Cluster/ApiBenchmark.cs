using System.Diagnostics;
using System.Globalization;
using Actorvisor.Host.Api.Client;
using Actorvisor.Host.Api.V1;

namespace Actorvisor.Host.Cluster;

/// <summary>
/// `bench api`: starts a 3-node cluster on 127.0.0.1 (child processes of this executable), then creates
/// <c>count</c> tiny VMs (1 vCPU, 1 MiB, the hello guest) one after the other through an <see cref="ApiClient"/>,
/// timing each create from request to reply. Placement spreads them over the nodes. Then starts up to
/// <see cref="StartSamples"/> of them that do not run on n1 through a second client connected to n1 only, timing
/// each start (gateway of n1 straight to the VM's node, no directory). Then destroys them and stops the nodes.
/// </summary>
public static class ApiBenchmark
{
    /// <summary>How many VMs of other nodes are started through n1 for <c>api.start_p99_ms</c>.</summary>
    public const int StartSamples = 200;

    /// <summary>Runs the benchmark; returns its figures in print order.</summary>
    public static async Task<IReadOnlyList<(string Key, string Value)>> RunAsync(int count, int warmup, string accelerator, TextWriter progress)
    {
        var root = Directory.CreateTempSubdirectory("actorvisor-bench-api-").FullName;
        var ports = LoopbackCluster.FreePorts(3);
        var nodes = new List<NodeProcess>();
        try
        {
            var clock = Stopwatch.StartNew();
            for (int i = 0; i < 3; i++)
            {
                nodes.Add(NodeProcess.Start($"n{i + 1}",
                [
                    "--name", $"n{i + 1}", "--port", ports[i].ToString(CultureInfo.InvariantCulture),
                    "--seed", $"127.0.0.1:{ports[0]}", "--seed", $"127.0.0.1:{ports[1]}",
                    "--data-dir", Path.Combine(root, $"n{i + 1}"), "--vcpus", "65536", "--memory", "64G",
                    "--accelerator", accelerator,
                ]));
            }
            var timeout = TimeSpan.FromSeconds(120);
            // Readiness: each node logs when it is Up; the directory learns of each hypervisor a moment later,
            // so the first successful cluster status with 3 reported hypervisors is the signal.
            var requestTimeout = TimeSpan.FromSeconds(30);
            await using var client = ApiClient.Connect(new ApiClientOptions("actorvisor", [$"127.0.0.1:{ports[0]}", $"127.0.0.1:{ports[1]}"], null, requestTimeout));
            await LoopbackCluster.WaitForHypervisorsAsync(client, nodes, 3, timeout, requestTimeout).ConfigureAwait(false);
            progress.WriteLine($"[bench] cluster of 3 up in {clock.Elapsed.TotalSeconds:0.0} s; {warmup} warm-up creates, then {count}");

            for (int i = 0; i < warmup; i++) await CreateAsync(client, $"warmup-{i}").ConfigureAwait(false);
            // Baseline: a request the directory answers itself (client -> node -> singleton and back), no VM work.
            var roundTrips = new double[200];
            for (int i = 0; i < roundTrips.Length; i++)
            {
                long start = Stopwatch.GetTimestamp();
                if (await client.RequestAsync(new ListVmsRequest("none")).ConfigureAwait(false) is not VmListReply)
                    throw new InvalidOperationException("list failed");
                roundTrips[i] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
            }
            Array.Sort(roundTrips);
            var latencies = new double[count];
            var perNode = new Dictionary<string, int>(StringComparer.Ordinal);
            var total = Stopwatch.StartNew();
            for (int i = 0; i < count; i++)
            {
                long start = Stopwatch.GetTimestamp();
                var vm = await CreateAsync(client, $"tiny-{i}").ConfigureAwait(false);
                latencies[i] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
                perNode[vm.Node] = perNode.GetValueOrDefault(vm.Node) + 1;
            }
            var totalSeconds = total.Elapsed.TotalSeconds;
            var status = (ClusterStatusReply)await client.RequestAsync(new ClusterStatusRequest()).ConfigureAwait(false);

            // Starts of existing VMs of n2 and n3 through n1: the earliest created, long known to n1's snapshot.
            var starts = new List<double>();
            await using (var viaN1 = ApiClient.Connect(new ApiClientOptions("actorvisor", [$"127.0.0.1:{ports[0]}"], null, requestTimeout)))
            {
                var listed = (VmListReply)await viaN1.RequestAsync(new ListVmsRequest()).ConfigureAwait(false);
                foreach (var vm in listed.Vms.Where(v => v.Node != "n1" && v.Name.StartsWith("tiny-", StringComparison.Ordinal))
                             .OrderBy(v => int.Parse(v.Name["tiny-".Length..], CultureInfo.InvariantCulture)).Take(StartSamples))
                {
                    long start = Stopwatch.GetTimestamp();
                    if (await viaN1.RequestAsync(new StartVmRequest(vm.Name)).ConfigureAwait(false) is not VmReply)
                        throw new InvalidOperationException($"starting {vm.Name} failed");
                    starts.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
                }
            }
            var startLatencies = starts.Order().ToArray();

            var destroy = Stopwatch.StartNew();
            foreach (var name in Enumerable.Range(0, count).Select(i => $"tiny-{i}").Concat(Enumerable.Range(0, warmup).Select(i => $"warmup-{i}")))
            {
                if (await client.RequestAsync(new DestroyVmRequest(name)).ConfigureAwait(false) is ApiErrorReply e)
                    throw new InvalidOperationException($"destroying {name} failed: {e}");
            }
            var destroySeconds = destroy.Elapsed.TotalSeconds;

            Array.Sort(latencies);
            string Ms(double v) => v.ToString("0.00", CultureInfo.InvariantCulture);
            return
            [
                ("api.vms", count.ToString(CultureInfo.InvariantCulture)),
                ("api.nodes", "3"),
                ("api.accelerator", string.Join(",", status.Nodes.Select(n => n.Accelerator).Distinct())),
                ("api.total_s", totalSeconds.ToString("0.000", CultureInfo.InvariantCulture)),
                ("api.creates_per_s", (count / totalSeconds).ToString("0", CultureInfo.InvariantCulture)),
                ("api.p50_ms", Ms(Percentile(latencies, 0.50))),
                ("api.p99_ms", Ms(Percentile(latencies, 0.99))),
                ("api.max_ms", Ms(latencies[^1])),
                ("api.mean_ms", Ms(latencies.Average())),
                ("api.spread", string.Join("/", perNode.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => $"{p.Key}:{p.Value}"))),
                ("api.roundtrip_p50_ms", Ms(Percentile(roundTrips, 0.50))),
                ("api.roundtrip_p99_ms", Ms(Percentile(roundTrips, 0.99))),
                ("api.starts", startLatencies.Length.ToString(CultureInfo.InvariantCulture)),
                ("api.start_p50_ms", startLatencies.Length == 0 ? "n/a" : Ms(Percentile(startLatencies, 0.50))),
                ("api.start_p99_ms", startLatencies.Length == 0 ? "n/a" : Ms(Percentile(startLatencies, 0.99))),
                ("api.destroy_total_s", destroySeconds.ToString("0.000", CultureInfo.InvariantCulture)),
            ];
        }
        finally
        {
            // One after the other, as a cluster should be stopped.
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

    private static async Task<VmInfo> CreateAsync(ApiClient client, string name)
    {
        var reply = await client.RequestAsync(new CreateVmRequest(new VmSpecification(name, 1, 1UL << 20, "hello"))).ConfigureAwait(false);
        return reply is VmReply ok ? ok.Vm : throw new InvalidOperationException($"creating {name} failed: {reply}");
    }

    private static double Percentile(double[] sorted, double p) => sorted[Math.Clamp((int)Math.Ceiling(p * sorted.Length) - 1, 0, sorted.Length - 1)];
}
