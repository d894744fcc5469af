using System.Text.Json;
using Actorvisor.Hardware.Guests;
using Actorvisor.Host.Api.V1;
using Actorvisor.Host.Node;
using Akka.Actor;

namespace Actorvisor.Host.Tests.Cluster;

/// <summary>A 3-node cluster of real processes driven through a ClusterClient and the CLI.</summary>
[Collection(ClusterCollection.Name)]
public sealed class ClusterApiTests(LocalCluster cluster)
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(60);

    private async Task<T> Ok<T>(ApiRequest request) where T : IApiReply
    {
        var reply = await cluster.Client.RequestAsync(request);
        return reply is T ok ? ok : throw new Xunit.Sdk.XunitException($"{request.GetType().Name} answered {reply}");
    }

    private async Task<ApiErrorReply> Error(ApiRequest request)
    {
        var reply = await cluster.Client.RequestAsync(request);
        return reply as ApiErrorReply ?? throw new Xunit.Sdk.XunitException($"{request.GetType().Name} succeeded: {reply}");
    }

    [Fact]
    public async Task Cluster_status_shows_three_hypervisors_with_capacity_and_accelerator()
    {
        var status = await Ok<ClusterStatusReply>(new ClusterStatusRequest());
        Assert.Equal("actorvisor", status.ClusterName);
        Assert.Equal(["n1", "n2", "n3"], status.Nodes.Select(n => n.Name));
        Assert.All(status.Nodes, n =>
        {
            Assert.Equal("Up", n.Status);
            Assert.Contains("hypervisor", n.Roles);
            Assert.Equal(8, n.Vcpus);
            Assert.Equal(256UL << 20, n.MemoryBytes);
            Assert.Contains(n.Accelerator, new[] { "kvm", "software" });
        });
    }

    [Fact]
    public async Task Placement_spreads_vms_over_the_nodes_via_cli_and_cluster_client()
    {
        // 128 MiB on 256 MiB nodes: each placement leaves the chosen node with less free memory than the others.
        var viaCli = await ActorvisorProcess.RunAsync(cluster.Cli(2, "vm", "create", "spread-1", "--image", "hello", "--memory", "128M", "--json"));
        Assert.True(viaCli.ExitCode == 0, viaCli.ToString());
        var first = JsonSerializer.Deserialize<VmReply>(viaCli.Stdout, ClusterJson)!.Vm;
        var second = (await Ok<VmReply>(new CreateVmRequest(new ApiVmSpec("spread-2", 1, 128UL << 20, "hello")))).Vm;
        var third = (await Ok<VmReply>(new CreateVmRequest(new ApiVmSpec("spread-3", 1, 128UL << 20, "hello")))).Vm;
        try
        {
            Assert.Equal(3, new[] { first.Node, second.Node, third.Node }.Distinct().Count());
            Assert.All([first, second, third], vm => Assert.Equal(VmStatus.Created, vm.Status));
            var list = await Ok<VmListReply>(new ListVmsRequest());
            Assert.Equal(first.Node, list.Vms.Single(v => v.Name == "spread-1").Node);
            // A fourth one of 200 MiB fits nowhere: a clear error, nothing created.
            var noRoom = await Error(new CreateVmRequest(new ApiVmSpec("spread-4", 1, 200UL << 20, "hello")));
            Assert.Equal(ApiErrorCode.NoCapacity, noRoom.Code);
            Assert.Contains("no hypervisor has room", noRoom.Message);
            Assert.DoesNotContain((await Ok<VmListReply>(new ListVmsRequest())).Vms, v => v.Name == "spread-4");
        }
        finally
        {
            foreach (var name in new[] { "spread-1", "spread-2", "spread-3" }) await cluster.Client.RequestAsync(new DestroyVmRequest(name));
        }
    }

    [Fact]
    public async Task Explicit_node_placement_and_its_errors()
    {
        var vm = (await Ok<VmReply>(new CreateVmRequest(new ApiVmSpec("pinned", 1, 16UL << 20, "hello", Node: "n2")))).Vm;
        Assert.Equal("n2", vm.Node);
        var unknown = await Error(new CreateVmRequest(new ApiVmSpec("pinned-x", 1, 16UL << 20, "hello", Node: "n9")));
        Assert.Equal((ApiErrorCode.NotFound, "spec.node"), (unknown.Code, unknown.Field));
        var duplicate = await Error(new CreateVmRequest(new ApiVmSpec("pinned", 1, 16UL << 20, "hello", Node: "n3")));
        Assert.Equal((ApiErrorCode.AlreadyExists, "spec.name"), (duplicate.Code, duplicate.Field));
        var destroyed = await Ok<VmReply>(new DestroyVmRequest("pinned"));
        Assert.Equal("pinned", destroyed.Vm.Name);
        Assert.Equal(ApiErrorCode.NotFound, (await Error(new DescribeVmRequest("pinned"))).Code);
    }

    [Fact]
    public async Task Console_streams_guest_output_through_the_cli()
    {
        var created = await ActorvisorProcess.RunAsync(cluster.Cli(1, "vm", "create", "greeter", "--image", "hello"));
        Assert.True(created.ExitCode == 0, created.ToString());
        Assert.Contains("greeter", created.Stdout);
        var console = await ActorvisorProcess.RunAsync(cluster.Cli(2, "vm", "console", "greeter", "--start"));
        Assert.True(console.ExitCode == 0, console.ToString());
        Assert.Contains(Hardware.Guests.GuestLibrary.HelloText.Trim(), console.Stdout);
        Assert.Contains("exited with result code 0", console.Stderr);
        // The console of an ended VM replays what it printed.
        var replay = await ActorvisorProcess.RunAsync(cluster.Cli(0, "vm", "console", "greeter", "--json"));
        Assert.True(replay.ExitCode == 0, replay.ToString());
        Assert.Contains("Hello from an Actorvisor guest!", replay.Stdout);
        var described = await ActorvisorProcess.RunAsync(cluster.Cli(0, "vm", "describe", "greeter", "--json"));
        var d = JsonSerializer.Deserialize<VmDescriptionReply>(described.Stdout, ClusterJson)!;
        Assert.Equal(VmStatus.Stopped, d.Vm.Status);
        Assert.Equal("exited with result code 0", d.Vm.Outcome);
        Assert.Contains("debug-exit", d.Devices);
        var destroyed = await ActorvisorProcess.RunAsync(cluster.Cli(1, "vm", "destroy", "greeter"));
        Assert.True(destroyed.ExitCode == 0, destroyed.ToString());
    }

    [Fact]
    public async Task Console_streams_to_a_cluster_client_subscriber_in_order()
    {
        await Ok<VmReply>(new CreateVmRequest(new ApiVmSpec("long-hello", 1, 16UL << 20, "long-mode-hello")));
        var text = new System.Text.StringBuilder();
        var ended = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        var subscriber = cluster.Client.Subscribe(m =>
        {
            if (m is ConsoleOutput o) text.Append(System.Text.Encoding.Latin1.GetString(o.Bytes));
            if (m is StreamEnded e) ended.TrySetResult(e.Reason);
        });
        var subscribed = await Ok<SubscribedReply>(new SubscribeConsoleRequest("long-hello", subscriber));
        Assert.Equal(("long-hello", "console", true), (subscribed.Vm, subscribed.Stream, subscribed.Active));
        await Ok<VmReply>(new StartVmRequest("long-hello"));
        Assert.Contains("exited with result code 64", await ended.Task.WaitAsync(Wait));
        Assert.Equal(Hardware.Guests.GuestLibrary.LongModeHello().ExpectedConsole, text.ToString());
        await Ok<VmReply>(new DestroyVmRequest("long-hello"));
    }

    [Fact]
    public async Task Console_input_sent_through_the_api_is_echoed_by_the_guest()
    {
        await Ok<VmReply>(new CreateVmRequest(new ApiVmSpec("echo", 1, 16UL << 20, "serial-echo")));
        try
        {
            var text = new System.Text.StringBuilder();
            var ready = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var ended = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
            var subscriber = cluster.Client.Subscribe(m =>
            {
                if (m is ConsoleOutput o)
                {
                    lock (text)
                    {
                        text.Append(System.Text.Encoding.Latin1.GetString(o.Bytes));
                        if (text.ToString().Contains(GuestLibrary.SerialEchoReady)) ready.TrySetResult();
                    }
                }
                if (m is StreamEnded e) ended.TrySetResult(e.Reason);
            });
            await Ok<SubscribedReply>(new SubscribeConsoleRequest("echo", subscriber));
            await Ok<VmReply>(new StartVmRequest("echo"));
            await ready.Task.WaitAsync(Wait);
            // Two requests: the guest echoes the first while it waits for the newline of the second.
            var first = await Ok<ConsoleInputReply>(new SendConsoleInputRequest("echo", "typed through "));
            Assert.Equal(("echo", 14, 14), (first.Name, first.SentBytes, first.AcceptedBytes));
            await Ok<ConsoleInputReply>(new SendConsoleInputRequest("echo", "the API\n"));
            Assert.Contains("exited with result code 0", await ended.Task.WaitAsync(Wait));
            lock (text) Assert.Equal(GuestLibrary.SerialEchoReady + "typed through the API\n", text.ToString());
            // The VM has ended: more input is refused, naming the VM.
            var late = await Error(new SendConsoleInputRequest("echo", "x"));
            Assert.True((late.Code, late.Field) == (ApiErrorCode.InvalidState, "name"), late.ToString());
            Assert.Contains("'echo'", late.Message);
        }
        finally
        {
            await cluster.Client.RequestAsync(new DestroyVmRequest("echo"));
        }
    }

    [Fact]
    public async Task Vm_console_forwards_piped_stdin_to_the_guest()
    {
        await Ok<VmReply>(new CreateVmRequest(new ApiVmSpec("cli-echo", 1, 16UL << 20, "serial-echo")));
        try
        {
            var console = await ActorvisorProcess.RunAsync(cluster.Cli(1, "vm", "console", "cli-echo", "--start"), input: "piped to the cli\n");
            Assert.True(console.ExitCode == 0, console.ToString());
            Assert.Contains(GuestLibrary.SerialEchoReady + "piped to the cli\n", console.Stdout);
            Assert.Equal("exited with result code 0", (await Ok<VmDescriptionReply>(new DescribeVmRequest("cli-echo"))).Vm.Outcome);
        }
        finally
        {
            await cluster.Client.RequestAsync(new DestroyVmRequest("cli-echo"));
        }
    }

    [Fact]
    public async Task Console_input_for_an_unknown_vm_or_over_the_limit_gets_a_clear_error()
    {
        var unknown = await Error(new SendConsoleInputRequest("no-such-vm", "hello\n"));
        Assert.Equal((ApiErrorCode.NotFound, "name"), (unknown.Code, unknown.Field));
        Assert.Contains("no-such-vm", unknown.Message);
        var tooLong = await Error(new SendConsoleInputRequest("no-such-vm", new string('a', ApiValidator.MaxConsoleInputBytes + 1)));
        Assert.Equal((ApiErrorCode.InvalidRequest, "text"), (tooLong.Code, tooLong.Field));
        Assert.Contains($"at most {ApiValidator.MaxConsoleInputBytes}", tooLong.Message);
    }

    [Fact]
    public async Task Lifecycle_start_pause_resume_stop_destroy_with_events()
    {
        var events = new List<VmStatus>();
        var stopped = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var subscriber = cluster.Client.Subscribe(m =>
        {
            if (m is not VmEventNotice n || n.Vm != "spinner") return;
            lock (events) events.Add(n.Status);
            if (n.Status == VmStatus.Stopped) stopped.TrySetResult();
        });
        await Ok<SubscribedReply>(new SubscribeVmEventsRequest(null, subscriber));
        await Ok<VmReply>(new CreateVmRequest(new ApiVmSpec("spinner", 1, 16UL << 20, GuestCatalog.Spin)));
        Assert.Equal(VmStatus.Running, (await Ok<VmReply>(new StartVmRequest("spinner"))).Vm.Status);
        Assert.Equal(VmStatus.Paused, (await Ok<VmReply>(new PauseVmRequest("spinner"))).Vm.Status);
        var pausedTwice = await Error(new PauseVmRequest("spinner"));
        Assert.Equal((ApiErrorCode.InvalidState, "name"), (pausedTwice.Code, pausedTwice.Field));
        Assert.Equal(VmStatus.Paused, (await Ok<VmDescriptionReply>(new DescribeVmRequest("spinner"))).Vm.Status);
        Assert.Equal(VmStatus.Running, (await Ok<VmReply>(new ResumeVmRequest("spinner"))).Vm.Status);
        var stop = await Ok<VmReply>(new StopVmRequest("spinner"));
        Assert.Equal((VmStatus.Stopped, "stopped on request"), (stop.Vm.Status, stop.Vm.Outcome));
        await stopped.Task.WaitAsync(Wait);
        lock (events) Assert.Equal([VmStatus.Created, VmStatus.Running, VmStatus.Paused, VmStatus.Running, VmStatus.Stopping, VmStatus.Stopped], events);
        Assert.Equal(VmStatus.Stopped, (await Ok<VmListReply>(new ListVmsRequest())).Vms.Single(v => v.Name == "spinner").Status);
        Assert.Equal(ApiErrorCode.InvalidState, (await Error(new StartVmRequest("spinner"))).Code);
        await Ok<VmReply>(new DestroyVmRequest("spinner"));
        Assert.DoesNotContain((await Ok<VmListReply>(new ListVmsRequest())).Vms, v => v.Name == "spinner");
        await Ok<SubscribedReply>(new UnsubscribeVmEventsRequest(null, subscriber));
    }

    [Fact]
    public async Task Events_of_one_vm_come_from_its_node_until_it_is_destroyed()
    {
        var notices = new List<(VmStatus, string)>();
        var stopped = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var ended = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        var subscriber = cluster.Client.Subscribe(m =>
        {
            if (m is StreamEnded e) ended.TrySetResult(e.Reason);
            if (m is not VmEventNotice { Vm: "watched" } n) return;
            lock (notices) notices.Add((n.Status, n.Detail));
            if (n.Status == VmStatus.Stopped) stopped.TrySetResult();
        });
        var created = await Ok<VmReply>(new CreateVmRequest(new ApiVmSpec("watched", 1, 16UL << 20, GuestCatalog.Spin)));
        var subscribed = await Ok<SubscribedReply>(new SubscribeVmEventsRequest("watched", subscriber));
        Assert.Equal(("watched", "events", true), (subscribed.Vm, subscribed.Stream, subscribed.Active));
        await Ok<VmReply>(new StartVmRequest("watched"));
        await Ok<VmReply>(new StopVmRequest("watched"));
        await stopped.Task.WaitAsync(Wait);
        lock (notices)
        {
            Assert.Equal([VmStatus.Created, VmStatus.Running, VmStatus.Stopping, VmStatus.Stopped], notices.Select(n => n.Item1));
            Assert.Equal(("current state", "Created -> Running"), (notices[0].Item2, notices[1].Item2));
        }
        await Ok<VmReply>(new DestroyVmRequest("watched"));
        Assert.Equal("the VM was destroyed", await ended.Task.WaitAsync(Wait));
        Assert.Contains(created.Vm.Node, new[] { "n1", "n2", "n3" });
    }

    [Fact]
    public async Task A_failed_notice_names_the_triple_fault_on_the_vm_s_stream_and_the_stream_of_all()
    {
        // The runtime reports Failed before the outcome: the notice waits for it, so subscribers see why, once.
        var ofVm = new List<VmEventNotice>();
        var ofAll = new List<VmEventNotice>();
        var failedOnVm = new TaskCompletionSource<VmEventNotice>(TaskCreationOptions.RunContinuationsAsynchronously);
        var failedOnAll = new TaskCompletionSource<VmEventNotice>(TaskCreationOptions.RunContinuationsAsynchronously);
        void Collect(IApiMessage m, List<VmEventNotice> into, TaskCompletionSource<VmEventNotice> failed)
        {
            if (m is not VmEventNotice { Vm: "faulter" } n) return;
            lock (into) into.Add(n);
            if (n.Status == VmStatus.Failed) failed.TrySetResult(n);
        }
        var vmSubscriber = cluster.Client.Subscribe(m => Collect(m, ofVm, failedOnVm));
        var allSubscriber = cluster.Client.Subscribe(m => Collect(m, ofAll, failedOnAll));
        await Ok<SubscribedReply>(new SubscribeVmEventsRequest(null, allSubscriber));
        try
        {
            await Ok<VmReply>(new CreateVmRequest(new ApiVmSpec("faulter", 1, 16UL << 20, "triple-fault")));
            await Ok<SubscribedReply>(new SubscribeVmEventsRequest("faulter", vmSubscriber));
            await Ok<VmReply>(new StartVmRequest("faulter"));
            foreach (var (failed, all) in new[] { (failedOnVm, ofVm), (failedOnAll, ofAll) })
            {
                var notice = await failed.Task.WaitAsync(Wait);
                Assert.StartsWith("failed: ", notice.Detail);
                Assert.Contains("triple fault", notice.Detail);
                lock (all) Assert.Single(all, n => n.Status == VmStatus.Failed);
            }
            Assert.Equal((await Ok<VmDescriptionReply>(new DescribeVmRequest("faulter"))).Vm.Outcome, (await failedOnVm.Task).Detail);
        }
        finally
        {
            await cluster.Client.RequestAsync(new UnsubscribeVmEventsRequest(null, allSubscriber));
            await cluster.Client.RequestAsync(new DestroyVmRequest("faulter"));
        }
    }

    public static TheoryData<string, ApiRequest> InvalidRequests() => new()
    {
        { "spec.name", new CreateVmRequest(new ApiVmSpec("", 1, 16UL << 20, "hello")) },
        { "spec.vcpus", new CreateVmRequest(new ApiVmSpec("bad", 0, 16UL << 20, "hello")) },
        { "spec.memoryBytes", new CreateVmRequest(new ApiVmSpec("bad", 1, 12345, "hello")) },
        { "spec.image", new CreateVmRequest(new ApiVmSpec("bad", 1, 16UL << 20, "")) },
        { "spec.image", new CreateVmRequest(new ApiVmSpec("bad", 1, 16UL << 20, "/etc/passwd")) },
        { "spec.image", new CreateVmRequest(new ApiVmSpec("bad", 1, 16UL << 20, "no-such.bin/x")) },
        { "spec.bootMode", new CreateVmRequest(new ApiVmSpec("bad", 1, 16UL << 20, "hello", "v86")) },
        { "spec", new CreateVmRequest(null!) },
        { "name", new StartVmRequest("bad name") },
        { "name", new DestroyVmRequest("") },
        { "subscriber", new SubscribeConsoleRequest("x", ActorRefs.Nobody) },
    };

    [Theory]
    [MemberData(nameof(InvalidRequests))]
    public async Task Every_invalid_request_gets_a_typed_error_naming_the_field(string field, ApiRequest request)
    {
        var error = await Error(request);
        Assert.Equal(ApiErrorCode.InvalidRequest, error.Code);
        Assert.Equal(field, error.Field);
        Assert.DoesNotContain((await Ok<VmListReply>(new ListVmsRequest())).Vms, v => v.Name == "bad");
    }

    [Fact]
    public async Task An_image_path_through_a_symbolic_link_out_of_the_image_directory_is_refused_and_the_node_keeps_serving()
    {
        // On every node, whichever one placement picks: sub/etc -> /etc (out) and sub/hello.bin -> ../hello.bin (inside).
        for (int i = 1; i <= cluster.Nodes.Count; i++)
        {
            var images = Path.Combine(cluster.Root, $"n{i}", "images");
            Directory.CreateDirectory(Path.Combine(images, "sub"));
            if (!Directory.Exists(Path.Combine(images, "sub", "etc"))) Directory.CreateSymbolicLink(Path.Combine(images, "sub", "etc"), "/etc");
            File.WriteAllBytes(Path.Combine(images, "hello.bin"), GuestLibrary.Hello().Bytes.ToArray());
            if (!File.Exists(Path.Combine(images, "sub", "hello.bin"))) File.CreateSymbolicLink(Path.Combine(images, "sub", "hello.bin"), "../hello.bin");
        }

        var error = await Error(new CreateVmRequest(new ApiVmSpec("evil2", 1, 16UL << 20, "sub/etc/shadow")));
        Assert.Equal((ApiErrorCode.InvalidRequest, "spec.image"), (error.Code, error.Field));
        Assert.Contains("'sub/etc/shadow'", error.Message);
        Assert.Contains("leads out of", error.Message);
        var proc = await Error(new CreateVmRequest(new ApiVmSpec("evil3", 1, 16UL << 20, "sub/etc/../../../../proc/self/root/etc/shadow")));
        Assert.Equal("spec.image", proc.Field);
        var viaCli = await ActorvisorProcess.RunAsync(cluster.Cli(0, "vm", "create", "evil2", "--image", "sub/etc/shadow"));
        Assert.True(viaCli.ExitCode == 2, viaCli.ToString()); // an invalid request is a usage error
        Assert.Contains("spec.image: 'sub/etc/shadow' is refused", viaCli.Stderr);
        Assert.DoesNotContain((await Ok<VmListReply>(new ListVmsRequest())).Vms, v => v.Name.StartsWith("evil", StringComparison.Ordinal));

        // A link that stays inside is followed, and the node still creates VMs.
        var created = await Ok<VmReply>(new CreateVmRequest(new ApiVmSpec("linked-hello", 1, 16UL << 20, "sub/hello.bin")));
        Assert.Equal(VmStatus.Created, created.Vm.Status);
        await Ok<VmReply>(new DestroyVmRequest("linked-hello"));
    }

    [Fact]
    public async Task Cli_exit_codes_are_0_ok_1_failed_2_usage()
    {
        var ok = await ActorvisorProcess.RunAsync(cluster.Cli(0, "vm", "list"));
        Assert.True(ok.ExitCode == 0, ok.ToString());
        var notFound = await ActorvisorProcess.RunAsync(cluster.Cli(0, "vm", "start", "nobody-here"));
        Assert.Equal(1, notFound.ExitCode);
        Assert.Contains("NotFound", notFound.Stderr);
        var badSize = await ActorvisorProcess.RunAsync(cluster.Cli(0, "vm", "create", "x", "--image", "hello", "--memory", "lots"));
        Assert.Equal(2, badSize.ExitCode);
        Assert.Contains("--memory", badSize.Stderr);
        var badImage = await ActorvisorProcess.RunAsync(cluster.Cli(0, "vm", "create", "x", "--image", "helo"));
        Assert.Equal(2, badImage.ExitCode);
        Assert.Contains("--image", badImage.Stderr);
        var noArgs = await ActorvisorProcess.RunAsync(["vm", "start"]);
        Assert.Equal(2, noArgs.ExitCode);
        var status = await ActorvisorProcess.RunAsync(cluster.Cli(1, "cluster", "status"));
        Assert.True(status.ExitCode == 0, status.ToString());
        Assert.Contains("n3", status.Stdout);
    }

    [Fact]
    public async Task A_cli_pointed_at_no_node_fails_with_exit_1()
    {
        var result = await ActorvisorProcess.RunAsync(["vm", "list", "--node", "127.0.0.1:1", "--timeout", "2"]);
        Assert.Equal(1, result.ExitCode);
        Assert.Contains("no answer", result.Stderr);
    }

    internal static readonly JsonSerializerOptions ClusterJson = new(Actorvisor.Host.Cli.ClusterCliRunner.Json);
}
