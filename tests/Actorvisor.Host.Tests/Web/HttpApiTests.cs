using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Actorvisor.Host.Tests.Cluster;

namespace Actorvisor.Host.Tests.Web;

/// <summary>
/// The node's HTTP/JSON API (/api/v1) on a node hosted in this process: a VM's life through it (create, list, describe,
/// start, console tail, stop, destroy), the event stream (VM events and counters that move), and bad input answered
/// with a JSON error naming the field and the right status while the node keeps serving.
/// </summary>
public sealed class HttpApiTests(WebNodeFixture fixture) : IClassFixture<WebNodeFixture>
{
    private WebNode Node => fixture.Node;

    private static string Str(JsonElement e, string property) => e.GetProperty(property).GetString() ?? "";

    private async Task<string> StatusOf(string vm)
    {
        var (status, json) = await Node.SendJson(HttpMethod.Get, $"/api/v1/vms/{vm}");
        Assert.Equal(HttpStatusCode.OK, status);
        return Str(json.GetProperty("vm"), "status");
    }

    [Fact]
    public async Task A_vm_lives_through_the_http_api()
    {
        var (created, reply) = await Node.SendJson(HttpMethod.Post, "/api/v1/vms", json: WebNode.CreateBody("http-hello", "hello"));
        Assert.Equal(HttpStatusCode.Created, created);
        Assert.Equal("http-hello", Str(reply.GetProperty("vm"), "name"));
        var (again, exists) = await Node.SendJson(HttpMethod.Post, "/api/v1/vms", json: WebNode.CreateBody("http-hello", "hello"));
        Assert.Equal(HttpStatusCode.Conflict, again);
        Assert.Equal("AlreadyExists", Str(exists, "code"));
        Assert.Equal("Created", Str(reply.GetProperty("vm"), "status"));
        Assert.Equal("w1", Str(reply.GetProperty("vm"), "node"));
        Assert.Equal(16L << 20, reply.GetProperty("vm").GetProperty("memoryBytes").GetInt64());

        var (listed, list) = await Node.SendJson(HttpMethod.Get, "/api/v1/vms");
        Assert.Equal(HttpStatusCode.OK, listed);
        var line = list.GetProperty("vms").EnumerateArray().Single(v => Str(v, "name") == "http-hello");
        Assert.Equal("Created", Str(line, "status"));
        Assert.Equal(JsonValueKind.Null, line.GetProperty("startedAt").ValueKind);

        var (described, description) = await Node.SendJson(HttpMethod.Get, "/api/v1/vms/http-hello");
        Assert.Equal(HttpStatusCode.OK, described);
        Assert.Contains("com1", description.GetProperty("devices").EnumerateArray().Select(d => d.GetString()));

        var (started, start) = await Node.SendJson(HttpMethod.Post, "/api/v1/vms/http-hello/start");
        Assert.Equal(HttpStatusCode.OK, started);
        Assert.NotEqual("Created", Str(start.GetProperty("vm"), "status"));
        // hello prints its greeting and exits: the VM ends on its own.
        await Eventually.HoldsAsync(async () => await StatusOf("http-hello") is "Stopped" ? null : "the guest has not ended", WebNode.Patience);

        var (_, afterRun) = await Node.SendJson(HttpMethod.Get, "/api/v1/vms");
        var ran = afterRun.GetProperty("vms").EnumerateArray().Single(v => Str(v, "name") == "http-hello");
        var startedAt = ran.GetProperty("startedAt").GetDateTimeOffset();
        Assert.InRange(startedAt, DateTimeOffset.UtcNow - WebNode.Patience, DateTimeOffset.UtcNow);
        Assert.Contains("result code", Str(ran, "outcome"));

        var (tailed, tail) = await Node.SendJson(HttpMethod.Get, "/api/v1/vms/http-hello/console?bytes=4096");
        Assert.Equal(HttpStatusCode.OK, tailed);
        Assert.Contains("Hello", Str(tail, "text"), StringComparison.OrdinalIgnoreCase);
        Assert.Equal(tail.GetProperty("bytes").GetInt32(), System.Text.Encoding.UTF8.GetByteCount(Str(tail, "text")));
        Assert.NotEqual(JsonValueKind.Null, tail.GetProperty("ended").ValueKind);

        var (destroyed, _) = await Node.SendJson(HttpMethod.Post, "/api/v1/vms/http-hello/destroy");
        Assert.Equal(HttpStatusCode.OK, destroyed);
        var (gone, missing) = await Node.SendJson(HttpMethod.Get, "/api/v1/vms/http-hello");
        Assert.Equal(HttpStatusCode.NotFound, gone);
        Assert.Equal("NotFound", Str(missing, "code"));
    }

    [Fact]
    public async Task Pause_resume_and_stop_a_running_guest()
    {
        Assert.Equal(HttpStatusCode.Created, (await Node.Send(HttpMethod.Post, "/api/v1/vms", json: WebNode.CreateBody("http-spin", "spin"))).Status);
        Assert.Equal("Running", Str((await Node.SendJson(HttpMethod.Post, "/api/v1/vms/http-spin/start")).Json.GetProperty("vm"), "status"));
        Assert.Equal("Paused", Str((await Node.SendJson(HttpMethod.Post, "/api/v1/vms/http-spin/pause")).Json.GetProperty("vm"), "status"));
        var (again, refused) = await Node.SendJson(HttpMethod.Post, "/api/v1/vms/http-spin/pause");
        Assert.Equal(HttpStatusCode.Conflict, again);
        Assert.Equal("InvalidState", Str(refused, "code"));
        Assert.Equal("Running", Str((await Node.SendJson(HttpMethod.Post, "/api/v1/vms/http-spin/resume")).Json.GetProperty("vm"), "status"));
        Assert.Equal("Stopped", Str((await Node.SendJson(HttpMethod.Post, "/api/v1/vms/http-spin/stop")).Json.GetProperty("vm"), "status"));
        Assert.Equal("Stopped", await StatusOf("http-spin"));
        Assert.Equal(HttpStatusCode.OK, (await Node.Send(HttpMethod.Post, "/api/v1/vms/http-spin/destroy")).Status);
    }

    [Fact]
    public async Task The_cluster_status_names_the_node_and_its_capacity()
    {
        var (status, json) = await Node.SendJson(HttpMethod.Get, "/api/v1/cluster");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("actorvisor", Str(json, "clusterName"));
        var node = json.GetProperty("nodes").EnumerateArray().Single(n => Str(n, "name") == "w1");
        Assert.Equal("Up", Str(node, "status"));
        Assert.Equal(8, node.GetProperty("vcpus").GetInt32());
        Assert.Equal(256L << 20, node.GetProperty("memoryBytes").GetInt64());
    }

    // (body, field named in the error): each refused with 400 before anything is placed.
    public static TheoryData<string, string> MalformedCreates => new()
    {
        { "{\"spec\": {\"name\": \"x\", \"vcpus\": 1, ", "body" },
        { "not json", "body" },
        { "", "body" },
        { "null", "body" },
        { "[1, 2]", "body" },
        { "{\"spec\": {\"name\": \"x\", \"vcpus\": \"two\", \"memoryBytes\": 16777216, \"image\": \"hello\"}}", "spec.vcpus" },
        { "{\"spec\": {\"name\": \"x\", \"vcpus\": 1, \"memoryBytes\": -1, \"image\": \"hello\"}}", "spec.memoryBytes" },
        { "{\"spec\": {\"name\": 7, \"vcpus\": 1, \"memoryBytes\": 16777216, \"image\": \"hello\"}}", "spec.name" },
        { "{\"spec\": {\"name\": \"x\", \"vcpu\": 1, \"memoryBytes\": 16777216, \"image\": \"hello\"}}", "spec.vcpu" },
        { "{\"spec\": {\"name\": \"x\", \"memoryBytes\": 16777216, \"image\": \"hello\"}}", "spec.vcpus" },
        { "{\"spec\": \"hello\"}", "spec" },
        { "{}", "spec" },
        { "{\"spec\": {\"name\": \"x\", \"vcpus\": 0, \"memoryBytes\": 16777216, \"image\": \"hello\"}}", "spec.vcpus" },
        { "{\"spec\": {\"name\": \"bad name\", \"vcpus\": 1, \"memoryBytes\": 16777216, \"image\": \"hello\"}}", "spec.name" },
        { "{\"spec\": {\"name\": \"x\", \"vcpus\": 1, \"memoryBytes\": 16777216, \"image\": \"no-such-guest\"}}", "spec.image" },
        { "{\"spec\": {\"name\": \"x\", \"vcpus\": 1, \"memoryBytes\": 16777216, \"image\": \"hello\"}, \"token\": \"web-token\"}", "token" },
        { "{\"spec\": {\"name\": \"x\", \"vcpus\": 1, \"memoryBytes\": 16777216, \"image\": \"hello\"}, \"deadlineMs\": 0}", "deadlineMs" },
    };

    [Theory]
    [MemberData(nameof(MalformedCreates))]
    public async Task A_malformed_create_is_refused_naming_the_field(string body, string field)
    {
        var (status, error) = await Node.SendJson(HttpMethod.Post, "/api/v1/vms", json: body);
        Assert.True(status == HttpStatusCode.BadRequest, $"{(int)status}: {error}");
        Assert.Equal("InvalidRequest", Str(error, "code"));
        Assert.Equal(field, Str(error, "field"));
        Assert.StartsWith(field + ":", Str(error, "message"));
        // The node keeps serving.
        Assert.Equal(HttpStatusCode.OK, (await Node.Send(HttpMethod.Get, "/api/v1/vms")).Status);
    }

    [Fact]
    public async Task A_body_over_the_request_limit_is_refused()
    {
        var huge = "{\"spec\": {\"name\": \"" + new string('x', 70_000) + "\"}}";
        var (status, error) = await Node.SendJson(HttpMethod.Post, "/api/v1/vms", json: huge);
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("body", Str(error, "field"));
        Assert.Contains("at most 65536", Str(error, "message"));
    }

    [Fact]
    public async Task Missing_wrong_and_malformed_tokens_are_unauthorized()
    {
        foreach (var (bearer, authorization, expected) in new (string?, string?, string)[]
        {
            (null, null, "missing API token"),
            ("not-the-token", null, "wrong API token"),
            (null, "Basic d2ViOnRva2Vu", "is not 'Bearer TOKEN'"),
        })
        {
            foreach (var (method, path, body) in new (HttpMethod, string, string?)[]
            {
                (HttpMethod.Get, "/api/v1/vms", null),
                (HttpMethod.Get, "/api/v1/cluster", null),
                (HttpMethod.Post, "/api/v1/vms", WebNode.CreateBody("sneaky", "hello")),
                (HttpMethod.Post, "/api/v1/vms/sneaky/start", null),
                (HttpMethod.Get, "/api/v1/vms/sneaky/console", null),
                (HttpMethod.Get, "/api/v1/events", null),
            })
            {
                var (status, error) = await Node.SendJson(method, path, bearer, body, authorization);
                Assert.True(status == HttpStatusCode.Unauthorized, $"{method} {path} with {bearer ?? authorization ?? "nothing"}: {(int)status} {error}");
                Assert.Equal("Unauthorized", Str(error, "code"));
                Assert.Equal("token", Str(error, "field"));
                Assert.Contains(expected, Str(error, "message"));
            }
        }
        Assert.Equal(HttpStatusCode.NotFound, (await Node.Send(HttpMethod.Get, "/api/v1/vms/sneaky")).Status);
    }

    [Fact]
    public async Task Unknown_vms_actions_paths_and_bad_parameters_are_named()
    {
        var cases = new (HttpMethod Method, string Path, HttpStatusCode Status, string Code, string? Field)[]
        {
            (HttpMethod.Get, "/api/v1/vms/no-such-vm", HttpStatusCode.NotFound, "NotFound", null),
            (HttpMethod.Post, "/api/v1/vms/no-such-vm/start", HttpStatusCode.NotFound, "NotFound", null),
            (HttpMethod.Get, "/api/v1/vms/no-such-vm/console", HttpStatusCode.NotFound, "NotFound", null),
            (HttpMethod.Post, "/api/v1/vms/no-such-vm/explode", HttpStatusCode.NotFound, "NotFound", "action"),
            (HttpMethod.Get, "/api/v1/vms/bad%20name", HttpStatusCode.BadRequest, "InvalidRequest", "name"),
            (HttpMethod.Get, "/api/v1/nothing-here", HttpStatusCode.NotFound, "NotFound", "path"),
            (HttpMethod.Get, "/api/v1/vms?deadlineMs=soon", HttpStatusCode.BadRequest, "InvalidRequest", "deadlineMs"),
            (HttpMethod.Get, "/api/v1/vms?deadlineMs=0", HttpStatusCode.BadRequest, "InvalidRequest", "deadlineMs"),
            (HttpMethod.Get, "/api/v1/vms?node=bad%2Fnode", HttpStatusCode.BadRequest, "InvalidRequest", "node"),
            (HttpMethod.Get, "/api/v1/vms/x/console?bytes=lots", HttpStatusCode.BadRequest, "InvalidRequest", "bytes"),
            (HttpMethod.Get, "/api/v1/vms/x/console?bytes=0", HttpStatusCode.BadRequest, "InvalidRequest", "bytes"),
            (HttpMethod.Get, "/api/v1/events?countersMs=1", HttpStatusCode.BadRequest, "InvalidRequest", "countersMs"),
        };
        foreach (var (method, path, expectedStatus, code, field) in cases)
        {
            var (status, error) = await Node.SendJson(method, path);
            Assert.True(status == expectedStatus, $"{method} {path}: {(int)status} {error}");
            Assert.Equal(code, Str(error, "code"));
            if (field is not null) Assert.Equal(field, Str(error, "field"));
            Assert.False(string.IsNullOrWhiteSpace(Str(error, "message")));
        }
        Assert.Equal(HttpStatusCode.OK, (await Node.Send(HttpMethod.Get, "/api/v1/cluster")).Status);
    }

    [Fact]
    public async Task The_event_stream_carries_vm_events_and_counters_that_move()
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, Node.BaseUrl + "/api/v1/events?countersMs=200");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", WebNode.Token);
        using var response = await Node.Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        using var stop = new CancellationTokenSource(WebNode.Patience);

        async Task<(string Event, JsonElement Data)> Next()
        {
            string? name = null, data = null;
            while (true)
            {
                var line = await reader.ReadLineAsync(stop.Token) ?? throw new Xunit.Sdk.XunitException("the event stream ended");
                if (line.StartsWith("event: ", StringComparison.Ordinal)) name = line[7..];
                else if (line.StartsWith("data: ", StringComparison.Ordinal)) data = line[6..];
                else if (line.Length == 0 && name is not null) return (name, JsonDocument.Parse(data!).RootElement.Clone());
            }
        }

        async Task<JsonElement> NextWhere(string name, Func<JsonElement, bool> holds)
        {
            while (true)
            {
                var (e, data) = await Next();
                if (e == name && holds(data)) return data;
            }
        }

        var subscribed = await Next();
        Assert.Equal("subscribed", subscribed.Event);
        Assert.Equal("events", Str(subscribed.Data, "stream"));

        Assert.Equal(HttpStatusCode.Created, (await Node.Send(HttpMethod.Post, "/api/v1/vms", json: WebNode.CreateBody("sse-spin", "spin"))).Status);
        Assert.Equal(HttpStatusCode.OK, (await Node.Send(HttpMethod.Post, "/api/v1/vms/sse-spin/start")).Status);
        var running = await NextWhere("vm", d => Str(d, "vm") == "sse-spin" && Str(d, "status") == "Running");
        Assert.Equal("w1", Str(running, "node"));

        static long Exits(JsonElement snapshot) =>
            snapshot.GetProperty("vms").EnumerateArray().Where(v => Str(v, "vm") == "sse-spin").Select(v => v.GetProperty("exits").GetInt64()).DefaultIfEmpty(-1).Single();
        var first = await NextWhere("counters", d => Exits(d) > 0);
        Assert.Equal("w1", Str(first, "node"));
        long before = Exits(first);
        var later = await NextWhere("counters", d => Exits(d) > before);
        Assert.True(Exits(later) > before);

        Assert.Equal(HttpStatusCode.OK, (await Node.Send(HttpMethod.Post, "/api/v1/vms/sse-spin/stop")).Status);
        await NextWhere("vm", d => Str(d, "vm") == "sse-spin" && Str(d, "status") == "Stopped");
        Assert.Equal(HttpStatusCode.OK, (await Node.Send(HttpMethod.Post, "/api/v1/vms/sse-spin/destroy")).Status);
    }
}
