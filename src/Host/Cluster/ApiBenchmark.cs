using System.Diagnostics;
using System.Globalization;
using Actorvisor.Host.Api.Client;
using Actorvisor.Host.Api.V1;
using Actorvisor.Host.Bench;

namespace Actorvisor.Host.Cluster;

/// <summary>
/// `bench api`: starts a cluster of <c>nodes</c> nodes on 127.0.0.1 (child processes of this executable; n1 and n2
/// are the seeds), timing how long it takes until the directory reports every node as a hypervisor (the join time).
/// Then creates <c>count</c> tiny VMs (1 vCPU, 1 MiB, the hello guest) one after the other through an
/// <see cref="ApiClient"/>, timing each create from request to reply, while a subscriber to every VM's events times
/// each VM's Created notice from the moment its node stamped it to its arrival (the event delivery lag; a round
/// waits for all its notices, so a lost one fails the run). Placement spreads them over the nodes. Then starts VMs
/// that do not run on n1 through a second client connected to n1 only, in rounds of up to
/// <see cref="StartsPerRound"/>, timing each start (n1's gateway straight to the VM's node, no directory), and
/// describes as many. Each node's resident memory is read from /proc with all VMs in place. Then destroys them and
/// stops the nodes. After the warm-up creates, the creates are split into rounds, each next to a batch of the
/// baseline (a request the directory answers without VM work), alternating which goes first; the latency and rate
/// figures are medians over the rounds with min and max.
/// </summary>
public static class ApiBenchmark
{
    private const int RoundTripsPerRound = 100;

    /// <summary>How many VMs of other nodes are started through n1 in each round, for <c>api.start_p99_ms</c>.</summary>
    public const int StartsPerRound = 100;

    /// <summary>The most nodes a run may start (10 child processes fit a 2-core, 24 GiB machine; each is a whole runtime).</summary>
    public const int MaxNodes = 10;

    // How long a round waits for the Created notices of its VMs before calling one lost.
    private static readonly TimeSpan EventWait = TimeSpan.FromSeconds(120);

    /// <summary>Runs the benchmark on <paramref name="nodeCount"/> nodes; returns its figures in print order.</summary>
    public static async Task<IReadOnlyList<(string Key, string Value)>> RunAsync(int nodeCount, int count, int warmup, int rounds, string accelerator, TextWriter progress)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(count, rounds);
        ArgumentOutOfRangeException.ThrowIfLessThan(nodeCount, 2);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(nodeCount, MaxNodes);
        var root = Directory.CreateTempSubdirectory("actorvisor-bench-api-").FullName;
        var ports = LoopbackCluster.FreePorts(nodeCount);
        var nodes = new List<NodeProcess>();
        try
        {
            var clock = Stopwatch.StartNew();
            for (int i = 0; i < nodeCount; i++)
            {
                nodes.Add(NodeProcess.Start($"n{i + 1}",
                [
                    "--name", $"n{i + 1}", "--port", ports[i].ToString(CultureInfo.InvariantCulture),
                    "--seed", $"127.0.0.1:{ports[0]}", "--seed", $"127.0.0.1:{ports[1]}",
                    "--data-dir", Path.Combine(root, $"n{i + 1}"), "--vcpus", "65536", "--memory", "64G",
                    "--accelerator", accelerator,
                ]));
            }
            // Ten runtimes starting at once on two cores take a while; this only bounds a cluster that never forms.
            var timeout = TimeSpan.FromSeconds(60 * nodeCount);
            // Readiness: each node logs when it is Up; the directory learns of each hypervisor a moment later,
            // so the first successful cluster status with every node reported as a hypervisor is the signal.
            var requestTimeout = TimeSpan.FromSeconds(30);
            await using var client = ApiClient.Connect(new ApiClientOptions("actorvisor", [$"127.0.0.1:{ports[0]}", $"127.0.0.1:{ports[1]}"], null, requestTimeout));
            await LoopbackCluster.WaitForHypervisorsAsync(client, nodes, nodeCount, timeout, requestTimeout).ConfigureAwait(false);
            double joinSeconds = clock.Elapsed.TotalSeconds;
            progress.WriteLine($"[bench] cluster of {nodeCount} up in {joinSeconds:0.0} s; {warmup} warm-up creates, then {count}");

            // Every VM's events: each Created notice's lag from its node's stamp to its arrival here.
            var createdLag = new Dictionary<string, double>(StringComparer.Ordinal);
            var awaited = new List<(int Count, TaskCompletionSource Reached)>();
            var events = client.Subscribe(m =>
            {
                if (m is not VmEventNotice { Status: VmStatus.Created } n) return;
                double lag = (DateTimeOffset.UtcNow - n.At).TotalMilliseconds;
                lock (createdLag)
                {
                    createdLag.TryAdd(n.Vm, lag);
                    foreach (var w in awaited.Where(w => createdLag.Count >= w.Count)) w.Reached.TrySetResult();
                }
            });
            if (await client.RequestAsync(new SubscribeVmEventsRequest(null, events)).ConfigureAwait(false) is not SubscribedReply)
                throw new InvalidOperationException("subscribing to every VM's events failed");

            for (int i = 0; i < warmup; i++) await CreateAsync(client, $"warmup-{i}").ConfigureAwait(false);
            await RoundTripsAsync(client, RoundTripsPerRound).ConfigureAwait(false);
            // Rounds: the baseline (a request the directory answers itself: client -> node -> singleton and back,
            // no VM work) next to a share of the creates, each first in every other round; medians over the rounds.
            var latencies = new List<double>(count);
            var perNode = new Dictionary<string, int>(StringComparer.Ordinal);
            var createP50 = new RoundSamples("api.p50_ms", "0.00");
            var createP99 = new RoundSamples("api.p99_ms", "0.00");
            var createRate = new RoundSamples("api.creates_per_s", "0");
            var tripP50 = new RoundSamples("api.roundtrip_p50_ms", "0.00");
            var tripP99 = new RoundSamples("api.roundtrip_p99_ms", "0.00");
            var lagP50 = new RoundSamples("api.event_lag_p50_ms", "0.00");
            var lagP99 = new RoundSamples("api.event_lag_p99_ms", "0.00");
            double totalSeconds = 0;
            int created = 0;
            for (int round = 0; round < rounds; round++)
            {
                int batch = count / rounds + (round < count % rounds ? 1 : 0);
                if (round % 2 == 1) AddRound(tripP50, tripP99, await RoundTripsAsync(client, RoundTripsPerRound).ConfigureAwait(false));
                var times = new double[batch];
                var roundClock = Stopwatch.StartNew();
                for (int i = 0; i < batch; i++)
                {
                    long start = Stopwatch.GetTimestamp();
                    var vm = await CreateAsync(client, $"tiny-{created++}").ConfigureAwait(false);
                    times[i] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
                    perNode[vm.Node] = perNode.GetValueOrDefault(vm.Node) + 1;
                }
                double seconds = roundClock.Elapsed.TotalSeconds;
                if (round % 2 == 0) AddRound(tripP50, tripP99, await RoundTripsAsync(client, RoundTripsPerRound).ConfigureAwait(false));
                totalSeconds += seconds;
                latencies.AddRange(times);
                if (batch == 0) continue;
                createRate.Add(batch / seconds);
                AddRound(createP50, createP99, times);
                AddRound(lagP50, lagP99, await CreatedLagsAsync(createdLag, awaited, warmup, created - batch, created).ConfigureAwait(false));
                progress.WriteLine($"[bench] round {round}: {batch} creates in {seconds:0.000} s, p99 {createP99.Values[^1]:0.00} ms; round trip p99 {tripP99.Values[^1]:0.00} ms; event lag p99 {lagP99.Values[^1]:0.00} ms");
            }
            // Starts of existing VMs of n2 and n3 through n1, the earliest created first (long known to n1's snapshot),
            // in the same number of rounds; medians over the rounds.
            var startP50 = new RoundSamples("api.start_p50_ms", "0.00");
            var startP99 = new RoundSamples("api.start_p99_ms", "0.00");
            var describeP50 = new RoundSamples("api.describe_p50_ms", "0.00");
            var describeP99 = new RoundSamples("api.describe_p99_ms", "0.00");
            int started = 0;
            await using (var viaN1 = ApiClient.Connect(new ApiClientOptions("actorvisor", [$"127.0.0.1:{ports[0]}"], null, requestTimeout)))
            {
                var listed = (VmListReply)await viaN1.RequestAsync(new ListVmsRequest()).ConfigureAwait(false);
                var others = listed.Vms.Where(v => v.Node != "n1" && v.Name.StartsWith("tiny-", StringComparison.Ordinal))
                    .OrderBy(v => int.Parse(v.Name["tiny-".Length..], CultureInfo.InvariantCulture)).Select(v => v.Name).ToArray();
                int perRound = Math.Min(StartsPerRound, others.Length / rounds);
                for (int round = 0; round < rounds && perRound > 0; round++)
                {
                    var times = new double[perRound];
                    var describeTimes = new double[perRound];
                    for (int i = 0; i < perRound; i++)
                    {
                        var name = others[round * perRound + i];
                        long start = Stopwatch.GetTimestamp();
                        if (await viaN1.RequestAsync(new StartVmRequest(name)).ConfigureAwait(false) is not VmReply)
                            throw new InvalidOperationException($"starting {name} failed");
                        times[i] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
                        // A VM not yet asked about this round, so no node answers from a warm path for it.
                        var other = others[others.Length - 1 - (round * perRound + i)];
                        start = Stopwatch.GetTimestamp();
                        if (await viaN1.RequestAsync(new DescribeVmRequest(other)).ConfigureAwait(false) is not VmDescriptionReply)
                            throw new InvalidOperationException($"describing {other} failed");
                        describeTimes[i] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
                    }
                    started += perRound;
                    AddRound(startP50, startP99, times);
                    AddRound(describeP50, describeP99, describeTimes);
                }
            }
            var status = (ClusterStatusReply)await client.RequestAsync(new ClusterStatusRequest()).ConfigureAwait(false);
            // Every node's resident memory with all the VMs created (and some started, the hello guest ends at once).
            var rss = nodes.Select(n => ProcessMemory.ResidentBytesOfProcess(n.Pid) / (1024.0 * 1024.0)).ToList();
            var nodeRss = new RoundSamples("api.node_rss_mib", "0");
            rss.ForEach(nodeRss.Add);
            progress.WriteLine($"[bench] resident memory per node (MiB): {string.Join(", ", nodes.Select((n, i) => $"{n.Name} {rss[i]:0}"))}");

            var destroy = Stopwatch.StartNew();
            foreach (var name in Enumerable.Range(0, count).Select(i => $"tiny-{i}").Concat(Enumerable.Range(0, warmup).Select(i => $"warmup-{i}")))
            {
                if (await client.RequestAsync(new DestroyVmRequest(name)).ConfigureAwait(false) is ApiErrorReply e)
                    throw new InvalidOperationException($"destroying {name} failed: {e}");
            }
            var destroySeconds = destroy.Elapsed.TotalSeconds;

            latencies.Sort();
            IEnumerable<(string Key, string Value)> startFigures = started == 0
                ? [("api.start_p50_ms", "n/a"), ("api.start_p99_ms", "n/a"), ("api.describe_p50_ms", "n/a"), ("api.describe_p99_ms", "n/a")]
                : startP50.Figures().Concat(startP99.Figures()).Concat(describeP50.Figures()).Concat(describeP99.Figures());
            string Ms(double v) => v.ToString("0.00", CultureInfo.InvariantCulture);
            return
            [
                ("api.vms", count.ToString(CultureInfo.InvariantCulture)),
                ("api.rounds", rounds.ToString(CultureInfo.InvariantCulture)),
                ("api.nodes", nodeCount.ToString(CultureInfo.InvariantCulture)),
                ("api.accelerator", string.Join(",", status.Nodes.Select(n => n.Accelerator).Distinct())),
                ("api.join_s", joinSeconds.ToString("0.0", CultureInfo.InvariantCulture)),
                ("api.total_s", totalSeconds.ToString("0.000", CultureInfo.InvariantCulture)),
                .. createRate.Figures(),
                .. createP50.Figures(),
                .. createP99.Figures(),
                ("api.max_ms", Ms(latencies[^1])),
                ("api.mean_ms", Ms(latencies.Average())),
                ("api.spread", string.Join("/", perNode.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => $"{p.Key}:{p.Value}"))),
                .. tripP50.Figures(),
                .. tripP99.Figures(),
                .. lagP50.Figures(),
                .. lagP99.Figures(),
                ("api.starts", started.ToString(CultureInfo.InvariantCulture)),
                .. startFigures,
                ("api.vms_per_node", ((count + warmup) / nodeCount).ToString(CultureInfo.InvariantCulture)),
                .. nodeRss.Figures(),
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

    // Waits until the Created notices of every VM so far have arrived (warm-up ones included), then returns the lags of
    // tiny-{from}..tiny-{to - 1}; throws naming the missing VMs if they do not all arrive in time.
    private static async Task<double[]> CreatedLagsAsync(Dictionary<string, double> lags, List<(int Count, TaskCompletionSource Reached)> awaited,
        int warmup, int from, int to)
    {
        var reached = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        int expected = warmup + to;
        lock (lags)
        {
            if (lags.Count >= expected) reached.TrySetResult();
            else awaited.Add((expected, reached));
        }
        if (await Task.WhenAny(reached.Task, Task.Delay(EventWait)).ConfigureAwait(false) != reached.Task)
        {
            lock (lags)
            {
                var missing = Enumerable.Range(0, to).Select(i => $"tiny-{i}").Where(n => !lags.ContainsKey(n)).Take(10);
                throw new InvalidOperationException($"Created notices missing after {EventWait.TotalSeconds:0} s: {string.Join(", ", missing)}");
            }
        }
        lock (lags)
        {
            awaited.RemoveAll(w => w.Reached == reached);
            return Enumerable.Range(from, to - from).Select(i => lags[$"tiny-{i}"]).ToArray();
        }
    }

    private static async Task<VmInfo> CreateAsync(ApiClient client, string name)
    {
        var reply = await client.RequestAsync(new CreateVmRequest(new ApiVmSpec(name, 1, 1UL << 20, "hello"))).ConfigureAwait(false);
        return reply is VmReply ok ? ok.Vm : throw new InvalidOperationException($"creating {name} failed: {reply}");
    }

    // Round trips of the baseline request; returns their times in ms.
    private static async Task<double[]> RoundTripsAsync(ApiClient client, int count)
    {
        var times = new double[count];
        for (int i = 0; i < count; i++)
        {
            long start = Stopwatch.GetTimestamp();
            if (await client.RequestAsync(new ListVmsRequest("none")).ConfigureAwait(false) is not VmListReply)
                throw new InvalidOperationException("list failed");
            times[i] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        }
        return times;
    }

    private static void AddRound(RoundSamples p50, RoundSamples p99, double[] times)
    {
        Array.Sort(times);
        p50.Add(Percentiles.Of(times, 0.50));
        p99.Add(Percentiles.Of(times, 0.99));
    }
}
