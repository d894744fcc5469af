using Actorvisor.Hardware.Guests;
using Actorvisor.Host.Api;
using Actorvisor.Host.Api.V1;
using Akka.Actor;

namespace Actorvisor.Host.Tests.Api;

public class ApiValidatorTests
{
    private static readonly ApiVmSpec Good = new("web-1", 1, 16UL << 20, "hello");
    // What the gateway and the CLI validate against.
    private static readonly VmSpecLimits Limits = HardwareSpecLimits.Current;

    [Fact]
    public void A_good_spec_and_every_good_request_pass()
    {
        Assert.Null(ApiValidator.Validate(new CreateVmRequest(Good), Limits));
        Assert.Null(ApiValidator.Validate(new CreateVmRequest(Good with { Image = "/var/lib/actorvisor/images/guest.elf", BootMode = "long", Node = "n1" }), Limits));
        foreach (var restart in new[] { "never", "on-failure", "always" }) Assert.Null(ApiValidator.Validate(new CreateVmRequest(Good with { Restart = restart }), Limits));
        Assert.Null(ApiValidator.Validate(new CreateVmRequest(Good with { CpuLimit = 0.25 }), Limits));
        Assert.Null(ApiValidator.Validate(new CreateVmRequest(Good with { Vcpus = 2, CpuLimit = 2 }), Limits));
        Assert.Null(ApiValidator.Validate(new CreateVmRequest(Good with { Disks = ["root.img", "/var/lib/actorvisor/images/data.img,ro", "scratch.img,rw"] }), Limits));
        Assert.Null(ApiValidator.Validate(new CreateVmRequest(Good with { Nets = ["tap=tap0", "tap=br-guest.1,mac=52:54:00:AB:cd:ef", "mac=02-00-00-00-00-01,tap=t2"] }), Limits));
        Assert.Null(ApiValidator.Validate(new StartVmRequest("a.b_c-1"), Limits));
        Assert.Null(ApiValidator.Validate(new StartVmRequest("a") { DeadlineMs = 2000 }, Limits));
        Assert.Null(ApiValidator.Validate(new ListVmsRequest(), Limits));
        Assert.Null(ApiValidator.Validate(new ListVmsRequest("n2"), Limits));
        Assert.Null(ApiValidator.Validate(new ClusterStatusRequest(), Limits));
        Assert.Null(ApiValidator.Validate(new SubscribeVmEventsRequest(null, new FakeRef()), Limits));
    }

    [Fact]
    public void The_restart_policies_the_client_accepts_are_the_ones_the_registry_parses()
    {
        Assert.Equal(Actorvisor.Actors.Registry.VmRestartPolicies.Names, ApiValidator.RestartPolicies);
        foreach (var name in ApiValidator.RestartPolicies) Assert.True(Actorvisor.Actors.Registry.VmRestartPolicies.TryParse(name, out _), name);
    }

    [Fact]
    public void The_disk_count_the_client_accepts_is_the_machines_virtio_slot_count()
    {
        Assert.Equal(Actorvisor.Hardware.Devices.Virtio.VirtioMmioLayout.MaxDevices, ApiValidator.MaxDisks);
    }

    [Theory]
    [InlineData("tap=tap0")]
    [InlineData("tap=br-guest.1,mac=52:54:00:AB:cd:ef")]
    [InlineData("tap=t0,bridge=br0")]
    [InlineData("tap=abcdefghijklmnop")]
    [InlineData("tap=t0,mac=01:00:5e:00:00:01")]
    [InlineData("tap=t0,mac=52:54-00:00:00:01")]
    [InlineData("mac=52:54:00:00:00:01")]
    public void The_client_and_the_node_agree_on_network_cards(string card)
    {
        bool clientAccepts = ApiValidator.Validate(new CreateVmRequest(Good with { Nets = [card] }), Limits) is null;
        bool nodeAccepts;
        try { Actorvisor.Hardware.Machines.VirtioNetSpec.Parse(card); nodeAccepts = true; }
        catch (ArgumentException) { nodeAccepts = false; }
        Assert.Equal(nodeAccepts, clientAccepts);
    }

    public static TheoryData<string, ApiRequest> BadRequests() => new()
    {
        { "spec", new CreateVmRequest(null!) },
        { "deadlineMs", new StartVmRequest("a") { DeadlineMs = 0 } },
        { "deadlineMs", new DescribeVmRequest("a") { DeadlineMs = 600_001 } },
        { "spec.name", new CreateVmRequest(Good with { Name = "" }) },
        { "spec.name", new CreateVmRequest(Good with { Name = null! }) },
        { "spec.name", new CreateVmRequest(Good with { Name = "has space" }) },
        { "spec.name", new CreateVmRequest(Good with { Name = new string('a', 65) }) },
        { "spec.name", new CreateVmRequest(Good with { Name = "x\u0001" }) },
        { "spec.cpuLimit", new CreateVmRequest(Good with { CpuLimit = 0 }) },
        { "spec.cpuLimit", new CreateVmRequest(Good with { CpuLimit = -0.5 }) },
        { "spec.cpuLimit", new CreateVmRequest(Good with { CpuLimit = 0.001 }) },
        { "spec.cpuLimit", new CreateVmRequest(Good with { CpuLimit = 1.5 }) },
        { "spec.cpuLimit", new CreateVmRequest(Good with { CpuLimit = double.NaN }) },
        { "spec.cpuLimit", new CreateVmRequest(Good with { CpuLimit = double.PositiveInfinity }) },
        { "spec.vcpus", new CreateVmRequest(Good with { Vcpus = 0 }) },
        { "spec.restart", new CreateVmRequest(Good with { Restart = "sometimes" }) },
        { "spec.restart", new CreateVmRequest(Good with { Restart = "" }) },
        { "spec.vcpus", new CreateVmRequest(Good with { Vcpus = -3 }) },
        { "spec.vcpus", new CreateVmRequest(Good with { Vcpus = 100_000 }) },
        { "spec.vcpus", new CreateVmRequest(Good with { Image = "two-vcpu-writer", MemoryBytes = 64UL << 20 }) },
        { "spec.memoryBytes", new CreateVmRequest(Good with { MemoryBytes = 0 }) },
        { "spec.memoryBytes", new CreateVmRequest(Good with { MemoryBytes = 4096 }) },
        { "spec.memoryBytes", new CreateVmRequest(Good with { MemoryBytes = (16UL << 20) + 1 }) },
        { "spec.memoryBytes", new CreateVmRequest(Good with { MemoryBytes = 1UL << 40 }) },
        { "spec.image", new CreateVmRequest(Good with { Image = "" }) },
        { "spec.image", new CreateVmRequest(Good with { Image = null! }) },
        { "spec.image", new CreateVmRequest(Good with { Image = "no-such-guest" }) },
        { "spec.image", new CreateVmRequest(Good with { Image = "/a\nb" }) },
        { "spec.image", new CreateVmRequest(Good with { Image = "/" + new string('a', 5000) }) },
        { "spec.bootMode", new CreateVmRequest(Good with { BootMode = "smm" }) },
        { "spec.node", new CreateVmRequest(Good with { Node = "bad/node" }) },
        { "spec.disks", new CreateVmRequest(Good with { Disks = Enumerable.Repeat("d.img", 8).ToList() }) },
        { "spec.disks[0]", new CreateVmRequest(Good with { Disks = [""] }) },
        { "spec.disks[0]", new CreateVmRequest(Good with { Disks = [",ro"] }) },
        { "spec.disks[1]", new CreateVmRequest(Good with { Disks = ["a.img", "b.img,readonly"] }) },
        { "spec.disks[0]", new CreateVmRequest(Good with { Disks = ["a\u0001.img"] }) },
        { "spec.vsockCid", new CreateVmRequest(Good with { VsockCid = 2 }) },
        { "spec.vsockCid", new CreateVmRequest(Good with { VsockCid = 0xffff_ffff }) },
        { "spec.disks[0]", new CreateVmRequest(Good with { Disks = [new string('a', 5000)] }) },
        { "spec.nets", new CreateVmRequest(Good with { Disks = Enumerable.Repeat("d.img", 6).ToList(), Nets = ["tap=a", "tap=b"] }) },
        { "spec.nets[0]", new CreateVmRequest(Good with { Nets = [""] }) },
        { "spec.nets[0]", new CreateVmRequest(Good with { Nets = ["mac=52:54:00:00:00:01"] }) },
        { "spec.nets[0]", new CreateVmRequest(Good with { Nets = ["tap=abcdefghijklmnop"] }) },
        { "spec.nets[0]", new CreateVmRequest(Good with { Nets = ["tap=a/b"] }) },
        { "spec.nets[0]", new CreateVmRequest(Good with { Nets = ["tap=.."] }) },
        { "spec.nets[0]", new CreateVmRequest(Good with { Nets = ["tap=t0,bridge=br0"] }) },
        { "spec.nets[0]", new CreateVmRequest(Good with { Nets = ["tap=t0,tap=t1"] }) },
        { "spec.nets[0]", new CreateVmRequest(Good with { Nets = ["tap=t0,mac=01:00:5e:00:00:01"] }) },
        { "spec.nets[0]", new CreateVmRequest(Good with { Nets = ["tap=t0,mac=52:54:00:00:00"] }) },
        { "spec.nets[0]", new CreateVmRequest(Good with { Nets = ["tap=t0,mac=52:54-00:00:00:01"] }) },
        { "spec.nets[1]", new CreateVmRequest(Good with { Nets = ["tap=t0", "tap=t0"] }) },
        { "name", new StartVmRequest("") },
        { "name", new PauseVmRequest(null!) },
        { "name", new ResumeVmRequest("a b") },
        { "name", new StopVmRequest("../etc") },
        { "name", new DestroyVmRequest(new string('x', 100)) },
        { "name", new DescribeVmRequest("") },
        { "node", new ListVmsRequest("") },
        { "name", new SubscribeConsoleRequest("", new FakeRef()) },
        { "subscriber", new SubscribeConsoleRequest("vm", null!) },
        { "subscriber", new SubscribeVmEventsRequest(null, ActorRefs.Nobody) },
        { "subscriber", new UnsubscribeVmEventsRequest("vm", null!) },
        { "token", new StartVmRequest("vm") { Token = new string('t', 300) } },
        { "name", new SendConsoleInputRequest("a b", "x") },
        { "text", new SendConsoleInputRequest("vm", "") },
        { "text", new SendConsoleInputRequest("vm", null!) },
        { "text", new SendConsoleInputRequest("vm", new string('a', ApiValidator.MaxConsoleInputBytes + 1)) },
        // 2-byte UTF-8 characters: within the limit in characters, over it in bytes.
        { "text", new SendConsoleInputRequest("vm", new string('\u00e9', ApiValidator.MaxConsoleInputBytes / 2 + 1)) },
        { "name", new SnapshotVmRequest("a/b", "snap") },
        { "to", new SnapshotVmRequest("vm", "..") },
        { "to", new SnapshotVmRequest("vm", ".hidden") },
        { "to", new SnapshotVmRequest("vm", "../etc") },
        { "to", new SnapshotVmRequest("vm", "") },
        { "from", new RestoreVmRequest("vm", "/abs/path") },
        { "from", new RestoreVmRequest("vm", ".") },
        { "mode", new RestoreVmRequest("vm", "snap", "fast") },
        { "node", new RestoreVmRequest("vm", "snap", "eager", "a b") },
        { "cpuLimit", new RestoreVmRequest("vm", "snap", "eager", CpuLimit: 0.001) },
        { "cpuLimit", new RestoreVmRequest("vm", "snap", "eager", CpuLimit: double.NaN) },
        { "cpuLimit", new RestoreVmRequest("vm", "snap", "eager", CpuLimit: double.PositiveInfinity) },
    };

    [Fact]
    public void Snapshot_and_restore_name_snapshots_not_paths()
    {
        Assert.Null(ApiValidator.Validate(new SnapshotVmRequest("vm", "vm-2026.12.07_before", Resume: true)));
        foreach (var mode in ApiValidator.RestoreModes) Assert.Null(ApiValidator.Validate(new RestoreVmRequest("vm2", "vm-snap", mode)));
        // Its upper bound is the snapshot's vCPU count, which the node holding it checks.
        Assert.Null(ApiValidator.Validate(new RestoreVmRequest("vm2", "vm-snap", "lazy", CpuLimit: 3.5)));
    }

    [Fact]
    public void Console_input_up_to_the_limit_with_control_characters_is_valid()
    {
        Assert.Null(ApiValidator.Validate(new SendConsoleInputRequest("vm", new string('a', ApiValidator.MaxConsoleInputBytes)), Limits));
        Assert.Null(ApiValidator.Validate(new SendConsoleInputRequest("vm", "ls\r\n\u0003\u001b[A"), Limits));
    }

    [Theory]
    [MemberData(nameof(BadRequests))]
    public void Every_bad_field_is_named_in_a_typed_error(string field, ApiRequest request)
    {
        var error = ApiValidator.Validate(request, Limits);
        Assert.NotNull(error);
        Assert.Equal(ApiErrorCode.InvalidRequest, error.Code);
        Assert.Equal(field, error.Field);
        Assert.StartsWith(field + ":", error.Message);
    }

    [Fact]
    public void An_unknown_guest_error_lists_the_library()
    {
        var error = ApiValidator.Validate(new CreateVmRequest(Good with { Image = "helo" }), Limits)!;
        Assert.Contains("hello", error.Message);
        Assert.Contains("long-mode-hello", error.Message);
    }

    [Fact]
    public void Without_the_nodes_limits_only_the_checks_that_need_none_are_made()
    {
        // A client of the library alone does not know the hardware's ranges or the guest library: the node checks those.
        Assert.Null(ApiValidator.Validate(new CreateVmRequest(Good with { Image = "no-such-guest" })));
        Assert.Null(ApiValidator.Validate(new CreateVmRequest(Good with { Vcpus = 100_000, MemoryBytes = 1UL << 40 })));
        Assert.NotNull(ApiValidator.Validate(new CreateVmRequest(Good with { Image = "no-such-guest" }), Limits));
        Assert.Equal("spec.memoryBytes", ApiValidator.Validate(new CreateVmRequest(Good with { MemoryBytes = 0 }))?.Field);
        Assert.Equal("spec.memoryBytes", ApiValidator.Validate(new CreateVmRequest(Good with { MemoryBytes = 4097 }))?.Field);
        Assert.Equal("spec.vcpus", ApiValidator.Validate(new CreateVmRequest(Good with { Vcpus = 0 }))?.Field);
        Assert.Equal("spec.name", ApiValidator.Validate(new CreateVmRequest(Good with { Name = "a b" }))?.Field);
    }

    [Fact]
    public void The_limits_are_the_hardware_layers_and_name_every_catalog_guest()
    {
        Assert.Equal(GuestCatalog.Names, Limits.LibraryGuests.Select(g => g.Name));
        Assert.Equal(2, Limits.FindGuest("two-vcpu-writer")!.Vcpus);
        // The API tells a library guest from a file the way the catalog does.
        Assert.All(GuestCatalog.Names, n => Assert.False(ApiValidator.IsImagePath(n)));
        Assert.True(ApiValidator.IsImagePath("images/a.elf"));
        Assert.Equal(GuestCatalog.IsPath("images/a.elf"), ApiValidator.IsImagePath("images/a.elf"));
    }

    [Fact]
    public void Names_with_control_characters_are_not_echoed_raw()
    {
        var error = ApiValidator.Validate(new StartVmRequest("a\u001b[2Jb"), Limits)!;
        Assert.DoesNotContain('\u001b', error.Message);
    }

    [Fact]
    public void A_request_prints_without_its_token()
    {
        var text = new StartVmRequest("vm") { Token = "s3cret" }.ToString();
        Assert.DoesNotContain("s3cret", text);
        Assert.Contains("vm", text);
    }

    private sealed class FakeRef : MinimalActorRef
    {
        public override ActorPath Path { get; } = new RootActorPath(new Address("akka", "test")) / "user" / "subscriber";
        public override IActorRefProvider Provider => throw new NotSupportedException();
    }
}
