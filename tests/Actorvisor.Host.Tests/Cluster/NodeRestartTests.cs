using System.Diagnostics;
using Actorvisor.Host.Api.V1;
using Xunit.Abstractions;

namespace Actorvisor.Host.Tests.Cluster;

/// <summary>A cluster of its own, because its test kills a node (n3) and starts it again on the same data directory.</summary>
public sealed class NodeRestartCluster : LocalCluster
{
    /// <inheritdoc />
    public override int[] ClientContacts => [0, 1];
}

/// <summary>
/// A node's desired state across kill -9: the node started again on the same data directory recreates its VMs per their
/// restart policy (never: defined only; on-failure: as they were if they were running or paused; always: running),
/// announces them so that the directory finds them again, keeps forgetting destroyed ones, and a failing VM's restart
/// count, kept with it, goes on counting.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class NodeRestartTests(NodeRestartCluster cluster, ITestOutputHelper output) : IClassFixture<NodeRestartCluster>
{
    private const int Victim = 2;
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(90);

    private async Task<T> Ok<T>(ApiRequest request) where T : IApiReply
    {
        var reply = await cluster.Client.RequestAsync(request);
        return reply is T ok ? ok : throw new Xunit.Sdk.XunitException($"{request.GetType().Name} answered {reply}");
    }

    private Task<VmReply> Create(string name, string image, string? restart) =>
        Ok<VmReply>(new CreateVmRequest(new ApiVmSpec(name, 1, 16UL << 20, image, Node: "n3", Restart: restart)));

    private async Task<Dictionary<string, VmInfo>> ListN3() =>
        (await Ok<VmListReply>(new ListVmsRequest())).Vms.Where(v => v.Node == "n3").ToDictionary(v => v.Name);

    [Fact]
    public async Task A_node_killed_and_started_again_brings_its_vms_back_per_policy_and_a_failing_vm_keeps_counting()
    {
        await Create("never-running", "spin", null);
        await Ok<VmReply>(new StartVmRequest("never-running"));
        await Create("on-failure-running", "spin", "on-failure");
        await Ok<VmReply>(new StartVmRequest("on-failure-running"));
        await Create("on-failure-paused", "spin", "on-failure");
        await Ok<VmReply>(new StartVmRequest("on-failure-paused"));
        await Ok<VmReply>(new PauseVmRequest("on-failure-paused"));
        await Create("on-failure-created", "spin", "on-failure");
        await Create("always-stopped", "spin", "always");
        await Ok<VmReply>(new StartVmRequest("always-stopped"));
        await Ok<VmReply>(new StopVmRequest("always-stopped"));
        await Create("destroyed", "spin", "always");
        await Ok<VmReply>(new StartVmRequest("destroyed"));
        await Ok<VmReply>(new DestroyVmRequest("destroyed"));
        await Create("crasher", "triple-fault", "on-failure");
        await Ok<VmReply>(new StartVmRequest("crasher"));

        // The triple-fault guest fails at once, every time: its node restarts it (0.5 s, then 1 s of backoff) and counts.
        int before = 0;
        await Eventually.HoldsAsync(async () =>
        {
            before = (await ListN3())["crasher"].Restarts ?? -1;
            return before >= 2 ? null : $"crasher restarted {before} time(s)";
        }, Wait);
        var described = await Ok<VmDescriptionReply>(new DescribeVmRequest("crasher"));
        Assert.True(described.Vm.Restarts >= before, $"describe says {described.Vm.Restarts} restarts, list said {before}");
        var cliList = await ActorvisorProcess.RunAsync(cluster.Cli(0, "vm", "list"));
        Assert.True(cliList.ExitCode == 0, cliList.ToString());
        Assert.Contains("RESTARTS", cliList.Stdout);
        output.WriteLine($"before the kill: crasher restarted {before} time(s)");

        var clock = Stopwatch.StartNew();
        var n3 = await cluster.KillAndRestartAsync(Victim);
        await n3.WaitForLineAsync("Recovered the VMs of", LocalCluster.StartTimeout);
        output.WriteLine($"n3 killed and started again: its VMs recreated after {clock.Elapsed.TotalSeconds:0.0} s");
        Dictionary<string, VmInfo> vms = new();
        await Eventually.HoldsAsync(async () =>
        {
            try
            {
                vms = await ListN3();
            }
            catch (Xunit.Sdk.XunitException e)
            {
                return e.Message;
            }
            var wanted = new Dictionary<string, VmStatus>
            {
                ["never-running"] = VmStatus.Created,
                ["on-failure-running"] = VmStatus.Running,
                ["on-failure-paused"] = VmStatus.Paused,
                ["on-failure-created"] = VmStatus.Created,
                ["always-stopped"] = VmStatus.Running,
            };
            var wrong = wanted.Where(w => !vms.TryGetValue(w.Key, out var vm) || vm.Status != w.Value).Select(w => $"{w.Key} is {(vms.TryGetValue(w.Key, out var v) ? v.Status : "missing")}").ToList();
            if (!vms.TryGetValue("crasher", out var crasher) || crasher.Restarts <= before) wrong.Add($"crasher restarted {(crasher?.Restarts)} time(s)");
            return wrong.Count == 0 ? null : string.Join(", ", wrong);
        }, Wait);
        output.WriteLine($"after {clock.Elapsed.TotalSeconds:0.0} s: {string.Join(", ", vms.Values.Select(v => $"{v.Name} {v.Status} ({v.Restarts} restarts)"))}");
        Assert.DoesNotContain("destroyed", vms.Keys);
        Assert.Equal(6, vms.Count);

        // The directory finds them on n3 again: requests routed through it reach them (a destroy goes through it).
        Assert.Equal(VmStatus.Running, (await Ok<VmDescriptionReply>(new DescribeVmRequest("on-failure-running"))).Vm.Status);
        Assert.Equal(VmStatus.Running, (await Ok<VmReply>(new StartVmRequest("never-running"))).Vm.Status);
        await Ok<VmReply>(new DestroyVmRequest("on-failure-created"));

        // Once more: what changed after the first restart (a start, a destroy) is what the node remembers.
        await cluster.KillAndRestartAsync(Victim).ContinueWith(t => t.Result.WaitForLineAsync("Recovered the VMs of", LocalCluster.StartTimeout)).Unwrap();
        await Eventually.HoldsAsync(async () =>
        {
            try
            {
                vms = await ListN3();
            }
            catch (Xunit.Sdk.XunitException e)
            {
                return e.Message;
            }
            if (vms.ContainsKey("on-failure-created")) return "on-failure-created is back after its destroy";
            // never: recreated as defined only, even though it was running.
            return vms.GetValueOrDefault("never-running")?.Status == VmStatus.Created && vms.GetValueOrDefault("on-failure-running")?.Status == VmStatus.Running
                ? null : string.Join(", ", vms.Values.Select(v => $"{v.Name} {v.Status}"));
        }, Wait);
    }
}
