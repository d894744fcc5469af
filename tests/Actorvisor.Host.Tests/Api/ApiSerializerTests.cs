using System.Runtime.Serialization;
using System.Text;
using Actorvisor.Host.Api;
using Actorvisor.Host.Api.V1;
using Akka.Actor;
using Akka.Configuration;

namespace Actorvisor.Host.Tests.Api;

public sealed class ApiSerializerTests : IDisposable
{
    private readonly ActorSystem _system = ActorSystem.Create("api-serializer-test",
        ConfigurationFactory.ParseString(ApiSerialization.Hocon + "\nakka.loglevel = OFF\nakka.stdout-loglevel = OFF"));
    private readonly ApiSerializer _serializer;
    private readonly IActorRef _subscriber;

    public ApiSerializerTests()
    {
        _serializer = (ApiSerializer)_system.Serialization.FindSerializerForType(typeof(IApiMessage));
        _subscriber = _system.ActorOf(Props.Empty, "subscriber");
    }

    public void Dispose() => _system.Terminate().Wait(TimeSpan.FromSeconds(10));

    private IEnumerable<IApiMessage> Samples()
    {
        var vm = new VmInfo("web-1", "n1", VmStatus.Running, 2, 32UL << 20, "hello", null);
        var spec = new ApiVmSpec("web-1", 2, 32UL << 20, "/images/a.elf", "long", "n2", Nets: ["tap=tap0,mac=52:54:00:12:34:56"]);
        var migration = new MigrationInfo("m-1", "web-1", "n1", "n2", MigrationInfo.Running, DateTimeOffset.UnixEpoch.AddSeconds(1234), null, 2, 17, 1.5e3, 4e7, 12.5, 32UL << 20);
        return
        [
            new CreateVmRequest(spec) { Token = "tok" },
            new StartVmRequest("web-1"), new PauseVmRequest("web-1"), new ResumeVmRequest("web-1"),
            new StopVmRequest("web-1"), new DestroyVmRequest("web-1"),
            new ListVmsRequest("n1"), new DescribeVmRequest("web-1"), new ClusterStatusRequest { Token = "t" },
            new SubscribeConsoleRequest("web-1", _subscriber), new SubscribeVmEventsRequest(null, _subscriber),
            new UnsubscribeVmEventsRequest("web-1", _subscriber),
            new SendConsoleInputRequest("web-1", "echo hi\r\n\u0003"), new ConsoleInputReply("web-1", 10, 8),
            new SnapshotVmRequest("web-1", "web-1-snap", Resume: true), new RestoreVmRequest("web-2", "web-1-snap", "mmap", "n2"),
            new SnapshotReply("web-1", "web-1-snap", "n1", "/var/lib/actorvisor/snapshots/web-1-snap", 32UL << 20, 1UL << 20, 17, true),
            new VmReply(vm), new VmListReply([vm, vm with { Name = "b", Status = VmStatus.Lost, Outcome = "node gone" },
                vm with { Name = "c", StartedAt = new DateTimeOffset(2026, 12, 7, 3, 0, 0, 250, TimeSpan.Zero) }]),
            new VmDescriptionReply(vm, "hello on KVM", ["com1", "debug-exit"], 1, "akka.tcp://c@127.0.0.1:1"),
            new ClusterStatusReply("c", "akka.tcp://c@h:1", "akka.tcp://c@h:1",
                [new NodeStatus("n1", "akka.tcp://c@h:1", "Up", ["hypervisor"], "kvm", "KVM (API 12)", 8, 2, 1UL << 30, 32UL << 20, 1)]),
            new SubscribedReply("web-1", "console", true),
            new ApiErrorReply(ApiErrorCode.NoCapacity, "no node has room", "spec.memoryBytes"),
            new ConsoleOutput("web-1", Encoding.ASCII.GetBytes("Hello\n\0\xff")),
            new VmEventNotice("web-1", "n1", VmStatus.Lost, "node n1 was removed", DateTimeOffset.UnixEpoch.AddSeconds(1234)),
            new StreamEnded("web-1", "the VM ended"),
            new MigrateVmRequest("web-1", "n2", 100, "auto", 50_000_000), new MigrateVmRequest("web-1", Cancel: true), new ListMigrationsRequest(),
            new MigrationReply(migration), new MigrationListReply([migration, migration with { Status = MigrationInfo.Failed, Reason = "reset" }]),
            new MigrationProgress(migration),
        ];
    }

    [Fact]
    public void Every_registered_type_has_a_sample_and_a_distinct_v1_manifest()
    {
        var sampled = Samples().Select(s => s.GetType()).ToHashSet();
        foreach (var t in ApiSerializer.Types)
        {
            Assert.Contains(t.Type, sampled);
            Assert.StartsWith("v1.", t.Manifest);
        }
        Assert.Equal(ApiSerializer.Types.Count, ApiSerializer.Types.Select(t => t.Manifest).Distinct().Count());
        var apiTypes = typeof(IApiMessage).Assembly.GetTypes().Where(t => typeof(IApiMessage).IsAssignableFrom(t) && !t.IsAbstract && !t.IsInterface);
        Assert.All(apiTypes, t => Assert.Contains(ApiSerializer.Types, r => r.Type == t));
    }

    [Fact]
    public void Akka_picks_the_api_serializer_for_every_api_message()
    {
        foreach (var sample in Samples())
            Assert.IsType<ApiSerializer>(_system.Serialization.FindSerializerFor(sample));
        Assert.Equal(ApiSerializer.Id, _serializer.Identifier);
    }

    [Fact]
    public void Every_message_round_trips()
    {
        foreach (var sample in Samples())
        {
            var bytes = _serializer.ToBinary(sample);
            var back = _serializer.FromBinary(bytes, _serializer.Manifest(sample));
            Assert.IsType(sample.GetType(), back);
            Assert.Equal(bytes, _serializer.ToBinary(back));
        }
    }

    [Fact]
    public void Fields_survive_the_round_trip()
    {
        var create = RoundTrip(new CreateVmRequest(new ApiVmSpec("a", 3, 8UL << 20, "hello", null, null)) { Token = "secret" });
        Assert.Equal(new ApiVmSpec("a", 3, 8UL << 20, "hello"), create.Spec);
        Assert.Equal("secret", create.Token);

        var console = RoundTrip(new ConsoleOutput("a", [0, 1, 0xff, (byte)'\n']));
        Assert.Equal(new byte[] { 0, 1, 0xff, (byte)'\n' }, console.Bytes);

        var sub = RoundTrip(new SubscribeConsoleRequest("a", _subscriber));
        Assert.Equal(_subscriber, sub.Subscriber);

        var list = RoundTrip(new VmListReply([new VmInfo("x", "n", VmStatus.Lost, 1, 4096, "hello", "lost")]));
        Assert.Equal(VmStatus.Lost, Assert.Single(list.Vms).Status);
    }

    [Fact]
    public void Enums_travel_as_names_so_versions_can_add_values()
    {
        var json = Encoding.UTF8.GetString(_serializer.ToBinary(new ApiErrorReply(ApiErrorCode.NoCapacity, "m")));
        Assert.Contains("\"NoCapacity\"", json);
    }

    [Fact]
    public void An_unknown_manifest_is_rejected()
    {
        var before = _serializer.RejectedCount;
        var e = Assert.Throws<SerializationException>(() => _serializer.FromBinary("{}"u8.ToArray(), "v2.create-vm"));
        Assert.Contains("v2.create-vm", e.Message);
        Assert.Equal(before + 1, _serializer.RejectedCount);
    }

    [Fact]
    public void Garbage_bytes_are_rejected()
    {
        var garbage = new byte[512];
        new Random(7).NextBytes(garbage);
        Assert.Throws<SerializationException>(() => _serializer.FromBinary(garbage, "v1.create-vm"));
        Assert.Throws<SerializationException>(() => _serializer.FromBinary([], "v1.start-vm"));
        Assert.Throws<SerializationException>(() => _serializer.FromBinary("null"u8.ToArray(), "v1.start-vm"));
        Assert.Throws<SerializationException>(() => _serializer.FromBinary("{\"name\": 5}"u8.ToArray(), "v1.start-vm"));
        Assert.Throws<SerializationException>(() => _serializer.FromBinary("{\"subscriber\": \"not a path\", \"name\": \"a\"}"u8.ToArray(), "v1.subscribe-console"));
        // Found by the fuzz test: Akka throws FormatException for a port or an actor uid that is not a number.
        Assert.Throws<SerializationException>(() => _serializer.FromBinary(
            "{\"subscriber\": \"akka.tcp://c@h:12x/user/s\", \"name\": \"a\"}"u8.ToArray(), "v1.subscribe-console"));
        Assert.Throws<SerializationException>(() => _serializer.FromBinary(
            "{\"subscriber\": \"akka://api-serializer-test/user/subscriber#12x\", \"name\": \"a\"}"u8.ToArray(), "v1.subscribe-console"));
    }

    [Fact]
    public void Deep_nesting_is_rejected()
    {
        var deep = string.Concat(Enumerable.Repeat("{\"a\":", 100)) + "1" + new string('}', 100);
        Assert.Throws<SerializationException>(() => _serializer.FromBinary(Encoding.UTF8.GetBytes(deep), "v1.start-vm"));
    }

    [Fact]
    public void An_oversize_request_is_rejected_both_ways()
    {
        var huge = new StartVmRequest(new string('a', ApiSerializer.MaxRequestBytes));
        Assert.Throws<SerializationException>(() => _serializer.ToBinary(huge));
        var bytes = Encoding.UTF8.GetBytes($"{{\"name\":\"{new string('a', ApiSerializer.MaxRequestBytes)}\"}}");
        var e = Assert.Throws<SerializationException>(() => _serializer.FromBinary(bytes, "v1.start-vm"));
        Assert.Contains("more than", e.Message);
    }

    [Fact]
    public void A_number_too_large_for_a_double_is_refused_naming_its_field()
    {
        // Found by the fuzz test: 1e309 parsed to infinity, which no JSON writer can write back.
        var e = Assert.Throws<SerializationException>(() => _serializer.FromBinary(
            "{\"name\":\"a\",\"from\":\"s\",\"cpuLimit\":1e309}"u8.ToArray(), "v1.restore-vm"));
        Assert.Contains("cpuLimit", e.Message);
        Assert.Contains("finite", e.Message);
        var ok = (RestoreVmRequest)_serializer.FromBinary("{\"name\":\"a\",\"from\":\"s\",\"cpuLimit\":0.5}"u8.ToArray(), "v1.restore-vm");
        Assert.Equal(0.5, ok.CpuLimit);
    }

    [Fact]
    public void Missing_fields_deserialize_as_null_for_the_validator_to_name()
    {
        var request = (CreateVmRequest)_serializer.FromBinary("{\"spec\":{\"vcpus\":1}}"u8.ToArray(), "v1.create-vm");
        Assert.Equal("spec.name", ApiValidator.Validate(request)!.Field);
    }

    [Fact]
    public void A_type_outside_the_api_is_not_serialized()
    {
        Assert.Throws<ArgumentException>(() => _serializer.ToBinary("a string"));
    }

    private T RoundTrip<T>(T message) where T : IApiMessage =>
        (T)_serializer.FromBinary(_serializer.ToBinary(message), _serializer.Manifest(message));
}
