using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text.RegularExpressions;
using Actorvisor.Hardware.Devices.Virtio;
using Actorvisor.Hardware.Guests;
using Actorvisor.Hardware.Machines;
using Actorvisor.Hardware.Metrics;
using Actorvisor.Hardware.Soft;
using Actorvisor.Host.Api.Client;
using Actorvisor.Host.Api.V1;
using Actorvisor.Host.Cluster;
using Actorvisor.Host.Node;
using Actorvisor.Host.Tests.Cluster;
using Akka.Actor;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using AkkaCluster = Akka.Cluster.Cluster;

namespace Actorvisor.Host.Tests.Node;

/// <summary>
/// A node's HTTP endpoint, on nodes hosted in this process (software accelerator, loopback, free ports): /metrics
/// counts the exits a guest made, needs the API token and says why not; /healthz; /readyz across join and leave;
/// unknown paths; the node keeps serving after bad requests.
/// </summary>
public sealed class NodeHttpEndpointTests : IAsyncDisposable
{
    // Forming a one- or two-node cluster takes 1-3 s here; a loaded CI machine gets far more.
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(90);

    private readonly string _dir = Directory.CreateTempSubdirectory("actorvisor-http-").FullName;
    private readonly List<IHost> _hosts = new();
    private readonly SoftAccelerator _accelerator = new();
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(60) };

    public async ValueTask DisposeAsync()
    {
        foreach (var host in Enumerable.Reverse(_hosts))
        {
            await host.StopAsync(TimeSpan.FromSeconds(60));
            host.Dispose();
        }
        _accelerator.Dispose();
        _http.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    private async Task<IHost> StartNode(string name, int port, int? httpPort, string? token, params int[] seeds)
    {
        var data = Path.Combine(_dir, name);
        Directory.CreateDirectory(data);
        var settings = new NodeSettings
        {
            NodeName = name,
            Port = port,
            DataDir = data,
            ImageDirectories = [],
            Vcpus = 8,
            MemoryBytes = 256UL << 20,
            ApiToken = token,
            HttpEndpoint = httpPort is { } p ? new IPEndPoint(IPAddress.Loopback, p) : null,
            SeedHostPorts = seeds.Select(s => $"127.0.0.1:{s}").ToList(),
            StableAfter = TimeSpan.FromSeconds(5),
            HeartbeatPause = TimeSpan.FromSeconds(5),
            LogLevel = "Warning",
        };
        var host = NodeHost.Build(settings, _accelerator);
        _hosts.Add(host);
        await host.StartAsync();
        return host;
    }

    private async Task<(HttpStatusCode Status, string Body)> Get(int port, string path, string? bearer = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, $"http://127.0.0.1:{port}{path}");
        if (bearer is not null) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", bearer);
        using var response = await _http.SendAsync(request);
        return (response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    private async Task WaitReady(int httpPort, bool ready) => await Eventually.HoldsAsync(async () =>
    {
        var (status, body) = await Get(httpPort, "/readyz");
        return (status == HttpStatusCode.OK) == ready ? null : $"/readyz answered {(int)status} {body.Trim()}";
    }, Patience);

    // The value of the sample of metric `name` whose labels include every one of `labels`.
    private static double Sample(string scrape, string name, params string[] labels)
    {
        var values = scrape.Split('\n')
            .Where(l => l.StartsWith(name + "{", StringComparison.Ordinal) && labels.All(l.Contains))
            .Select(l => double.Parse(l[(l.LastIndexOf('}') + 1)..].Trim().Split(' ')[0], CultureInfo.InvariantCulture))
            .ToList();
        Assert.True(values.Count == 1, $"{values.Count} samples of {name} with {string.Join(", ", labels)} in:\n{scrape}");
        return values[0];
    }

    [Fact]
    public async Task Metrics_count_the_exits_of_a_guest_that_ran_and_need_the_token()
    {
        const string token = "metrics-token";
        var ports = LoopbackCluster.FreePorts(2);
        await StartNode("m1", ports[0], ports[1], token);
        await WaitReady(ports[1], ready: true);

        // What the guest does, counted by the hardware layer alone: the same guest on a bare machine.
        const int writes = 1000; // the API boots library guests with their default parameters: port-io-loop makes 1000 OUTs
        string reference = $"reference-{Guid.NewGuid():N}";
        using (var machine = Machine.Create(_accelerator, new MachineSpec { Image = GuestLibrary.PortIoLoop(writes), CountExitsAs = reference }))
            Assert.True(machine.Run(TimeSpan.FromMinutes(2)).Succeeded);
        var expected = HardwareMeter.ExportedVcpus.Single(c => c.Vm == reference);
        Assert.True(expected.PortIo > writes, $"the reference run counted {expected.PortIo} port I/O exits for {writes} OUTs and its console");

        await using var client = ApiClient.Connect(new ApiClientOptions("actorvisor", [$"127.0.0.1:{ports[0]}"], token, TimeSpan.FromSeconds(30)));
        Assert.IsType<VmReply>(await client.RequestAsync(new CreateVmRequest(new ApiVmSpec("metered", 1, 16UL << 20, "port-io-loop"))));
        // The created VM holds 1 vCPU and 16 MiB of the node's capacity.
        var created = (await Get(ports[1], "/metrics", token)).Body;
        Assert.Equal(Sample(created, "actorvisor_node_vcpus", "kind=\"total\"") - 1, Sample(created, "actorvisor_node_vcpus", "kind=\"free\""));
        Assert.Equal(Sample(created, "actorvisor_node_memory_bytes", "kind=\"total\"") - (16 << 20), Sample(created, "actorvisor_node_memory_bytes", "kind=\"free\""));
        Assert.IsType<VmReply>(await client.RequestAsync(new StartVmRequest("metered")));
        await Eventually.HoldsAsync(async () =>
            await client.RequestAsync(new DescribeVmRequest("metered")) is VmDescriptionReply { Vm.Status: VmStatus.Stopped } ? null : "the guest has not ended", Patience);

        var (status, scrape) = await Get(ports[1], "/metrics", token);
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(expected.PortIo, Sample(scrape, "actorvisor_vcpu_exits_total", "vm=\"metered\"", "vcpu=\"0\"", "kind=\"port_io\""));
        Assert.Equal(expected.Mmio, Sample(scrape, "actorvisor_vcpu_exits_total", "vm=\"metered\"", "kind=\"mmio\""));
        Assert.Equal(0, Sample(scrape, "actorvisor_vcpu_exits_total", "vm=\"metered\"", "kind=\"other\""));
        Assert.True(Sample(scrape, "actorvisor_vcpu_guest_time_seconds_total", "vm=\"metered\"") > 0);
        Assert.Equal(1, Sample(scrape, "actorvisor_cluster_members", "status=\"up\""));
        // Node-wide (other VMs of this test process count too): at least this VM's start and end.
        Assert.True(Sample(scrape, "actorvisor_vm_transitions_total", "state=\"running\"") >= 1, scrape);
        Assert.True(Sample(scrape, "actorvisor_vm_transitions_total", "state=\"stopped\"") >= 1, scrape);
        Assert.True(Sample(scrape, "actorvisor_asyncpf_events_total", "kind=\"fault\"") >= 0, scrape);
        Assert.True(Sample(scrape, "actorvisor_api_request_duration_seconds_count", "kind=\"create_vm\"", "outcome=\"ok\"") >= 1, scrape);
        // Buckets for seconds (from half a millisecond), not the exporter's default ones for milliseconds.
        Assert.True(Sample(scrape, "actorvisor_api_request_duration_seconds_bucket", "kind=\"create_vm\"", "outcome=\"ok\"", "le=\"0.0005\"") >= 0, scrape);
        // The VM left Created and Running (node-wide, so at least once each), and its memory was mapped.
        Assert.True(Sample(scrape, "actorvisor_vm_state_duration_seconds_count", "state=\"created\"") >= 1, scrape);
        Assert.True(Sample(scrape, "actorvisor_vm_state_duration_seconds_count", "state=\"running\"") >= 1, scrape);
        Assert.True(Sample(scrape, "actorvisor_memslot_changes_total", "op=\"set\"") >= 1, scrape);

        var missing = await Get(ports[1], "/metrics");
        Assert.Equal(HttpStatusCode.Unauthorized, missing.Status);
        Assert.Contains("unauthorized: missing API token", missing.Body);
        var wrong = await Get(ports[1], "/metrics", "not-the-token");
        Assert.Equal(HttpStatusCode.Unauthorized, wrong.Status);
        Assert.Contains("unauthorized: wrong API token", wrong.Body);
        Assert.DoesNotContain("actorvisor_", wrong.Body);
        var unknown = await Get(ports[1], "/metricz");
        Assert.Equal(HttpStatusCode.NotFound, unknown.Status);
        Assert.Contains("not found: GET /metricz", unknown.Body);

        // Health endpoints are open, and the node keeps serving after the refusals.
        Assert.Equal(HttpStatusCode.OK, (await Get(ports[1], "/healthz")).Status);
        Assert.Equal(HttpStatusCode.OK, (await Get(ports[1], "/metrics", token)).Status);
        Assert.IsType<VmDescriptionReply>(await client.RequestAsync(new DescribeVmRequest("metered")));
    }

    [Fact]
    public async Task Metrics_export_the_virtio_notifications_that_reached_the_vcpu_per_vm_and_device()
    {
        const string token = "metrics-token";
        var ports = LoopbackCluster.FreePorts(2);
        await StartNode("virtio-metrics", ports[0], ports[1], token);
        await WaitReady(ports[1], ready: true);

        // On the software accelerator every QueueNotify write is an MMIO exit: the block driver guest makes 3 (read, write, flush).
        var disk = Path.Combine(_dir, "disk.img");
        File.WriteAllBytes(disk, new byte[16 * VirtioBlock.SectorSize]);
        string vm = $"virtio-{Guid.NewGuid():N}";
        long notifyExits;
        using (var machine = Machine.Create(_accelerator, new MachineSpec
               {
                   Image = VirtioGuests.BlockDriver(), Disks = [new VirtioDiskSpec { Path = disk }], CountExitsAs = vm,
               }))
        {
            Assert.True(machine.Run(TimeSpan.FromMinutes(2)).Succeeded);
            notifyExits = machine.Parts.Virtio.NotifyExitsToVcpu;
        }
        Assert.Equal(3, notifyExits);

        // The machine ended: its final count stays exported (HardwareMeter.RetainEnded).
        var (status, scrape) = await Get(ports[1], "/metrics", token);
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(notifyExits, Sample(scrape, "actorvisor_virtio_notify_exits_total", $"vm=\"{vm}\"", "device=\"vda\""));
    }

    [Fact]
    public async Task Readyz_follows_join_and_leave_while_healthz_stays_up()
    {
        var ports = LoopbackCluster.FreePorts(3);
        int seedPort = ports[0], port = ports[1], http = ports[2];
        // Its only seed is not running yet: the node is alive but cannot join.
        var joiner = await StartNode("joiner", port, http, token: null, seedPort);
        Assert.Equal(HttpStatusCode.OK, (await Get(http, "/healthz")).Status);
        var before = await Get(http, "/readyz");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, before.Status);
        Assert.StartsWith("not ready", before.Body);

        await StartNode("seed", seedPort, httpPort: null, token: null);
        await WaitReady(http, ready: true);
        Assert.StartsWith("ready: Up in cluster actorvisor", (await Get(http, "/readyz")).Body);

        var system = joiner.Services.GetRequiredService<ActorSystem>();
        var cluster = AkkaCluster.Get(system);
        cluster.Leave(cluster.SelfAddress);
        await WaitReady(http, ready: false);
        Assert.Equal(HttpStatusCode.OK, (await Get(http, "/healthz")).Status);
    }
}
