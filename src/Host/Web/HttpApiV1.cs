using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Threading.Channels;
using Actorvisor.Host.Api;
using Actorvisor.Host.Api.V1;
using Akka.Actor;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Actorvisor.Host.Web;

/// <summary>
/// The node's HTTP/JSON API, version 1 (minimal APIs under <see cref="Prefix"/>): each route builds the v1 request
/// record, puts the <c>Authorization: Bearer</c> token and the optional <c>deadlineMs</c> query parameter on it, and
/// asks the node's <see cref="ApiGateway"/>, which checks the token, validates (<see cref="ApiValidator"/>) and
/// routes it as it does for the remote actor API. Replies are the v1 records in their JSON names; an
/// <see cref="ApiErrorReply"/> comes with the status of <see cref="HttpApiStatus"/>.
/// </summary>
public static class HttpApiV1
{
    /// <summary>Where the API is served.</summary>
    public const string Prefix = "/api/v1";

    /// <summary>The actions of <c>POST /api/v1/vms/{name}/{action}</c>.</summary>
    public static readonly IReadOnlyList<string> Actions = ["start", "pause", "resume", "stop", "destroy"];

    /// <summary>The most console bytes a tail may ask for (the node keeps 64 KiB of each console).</summary>
    public const int MaxTailBytes = 64 * 1024;

    /// <summary>The shortest and longest period of the counters on the event stream.</summary>
    public static readonly (int Least, int Most) CountersPeriodMs = (100, 60_000);

    private static readonly JsonSerializerOptions ErrorJson = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        Converters = { new System.Text.Json.Serialization.JsonStringEnumConverter() },
    };

    private static long s_streams;

    /// <summary>Maps the routes on <paramref name="app"/>, answered through <paramref name="access"/>; <paramref name="nodeName"/> labels the counters.</summary>
    public static void Map(IEndpointRouteBuilder app, NodeApiAccess access, string nodeName)
    {
        ArgumentNullException.ThrowIfNull(app);
        var api = app.MapGroup(Prefix);
        api.MapGet("/vms", (HttpContext c) => Answer(c, access, new ListVmsRequest(c.Request.Query["node"].FirstOrDefault())));
        api.MapPost("/vms", (HttpContext c) => Create(c, access));
        api.MapGet("/vms/{name}", (HttpContext c, string name) => Answer(c, access, new DescribeVmRequest(name)));
        api.MapPost("/vms/{name}/{action}", (HttpContext c, string name, string action) => action switch
        {
            "start" => Answer(c, access, new StartVmRequest(name)),
            "pause" => Answer(c, access, new PauseVmRequest(name)),
            "resume" => Answer(c, access, new ResumeVmRequest(name)),
            "stop" => Answer(c, access, new StopVmRequest(name)),
            "destroy" => Answer(c, access, new DestroyVmRequest(name)),
            _ => WriteError(c, access, new ApiErrorReply(ApiErrorCode.NotFound,
                $"action: '{Printable(action)}' is not an action of a VM ({string.Join(", ", Actions)})", "action")),
        });
        api.MapGet("/vms/{name}/console", (HttpContext c, string name) => ConsoleTailOf(c, access, name));
        api.MapGet("/cluster", (HttpContext c) => Answer(c, access, new ClusterStatusRequest()));
        api.MapGet("/events", (HttpContext c) => Events(c, access, nodeName));
        api.Map("/{**rest}", (HttpContext c) => WriteError(c, access, new ApiErrorReply(ApiErrorCode.NotFound,
            $"path: {c.Request.Method} {Printable(c.Request.Path.ToString())} is not part of the API; it has GET {Prefix}/vms, GET {Prefix}/vms/NAME, " +
            $"POST {Prefix}/vms, POST {Prefix}/vms/NAME/{{{string.Join("|", Actions)}}}, GET {Prefix}/vms/NAME/console, GET {Prefix}/cluster, GET {Prefix}/events", "path")));
    }

    private static async Task Answer(HttpContext context, NodeApiAccess access, ApiRequest request, int okStatus = StatusCodes.Status200OK)
    {
        var (caller, error) = Identify(context, access);
        if (caller is null)
        {
            await WriteError(context, access, error!).ConfigureAwait(false);
            return;
        }
        var reply = await Ask(caller.Node, caller.On(request)).ConfigureAwait(false);
        if (reply is ApiErrorReply e) await WriteError(context, access, e).ConfigureAwait(false);
        else await WriteJson(context, okStatus, reply, caller.Node.Json).ConfigureAwait(false);
    }

    private static async Task Create(HttpContext context, NodeApiAccess access)
    {
        if (access.Current is not { } node)
        {
            await WriteError(context, access, Unavailable(access)).ConfigureAwait(false);
            return;
        }
        var (request, error) = await HttpRequestBody.ReadAsync<CreateVmRequest>(context, node.BodyJson).ConfigureAwait(false);
        if (error is not null)
        {
            await WriteError(context, access, error).ConfigureAwait(false);
            return;
        }
        if (request!.DeadlineMs is not null && context.Request.Query.ContainsKey("deadlineMs"))
        {
            await WriteError(context, access, ApiErrorReply.Invalid("deadlineMs", "is given twice, in the body and the query; give one")).ConfigureAwait(false);
            return;
        }
        context.Response.Headers.Location = $"{Prefix}/vms/{Uri.EscapeDataString(request.Spec?.Name ?? "")}";
        await Answer(context, access, request, StatusCodes.Status201Created).ConfigureAwait(false);
    }

    private static async Task ConsoleTailOf(HttpContext context, NodeApiAccess access, string name)
    {
        int bytes = 16 * 1024;
        if (context.Request.Query["bytes"].FirstOrDefault() is { } text &&
            (!int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out bytes) || bytes < 1 || bytes > MaxTailBytes))
        {
            await WriteError(context, access, ApiErrorReply.Invalid("bytes", $"'{Printable(text)}' is not a whole number of bytes in 1..{MaxTailBytes}")).ConfigureAwait(false);
            return;
        }
        var (caller, error) = Identify(context, access);
        if (caller is null)
        {
            await WriteError(context, access, error!).ConfigureAwait(false);
            return;
        }
        var node = caller.Node;
        var collector = node.System.ActorOf(ConsoleTailCollector.Props(name, bytes), $"http-console-{Interlocked.Increment(ref s_streams)}");
        var reply = await Ask(node, caller.On(new SubscribeConsoleRequest(name, collector))).ConfigureAwait(false);
        if (reply is ApiErrorReply e)
        {
            node.System.Stop(collector);
            await WriteError(context, access, e).ConfigureAwait(false);
            return;
        }
        var wait = ConsoleTailCollector.MostWait + TimeSpan.FromSeconds(5);
        try
        {
            var tail = await collector.Ask<ConsoleTail>(ConsoleTailCollector.Finish.Instance, wait).ConfigureAwait(false);
            await WriteJson(context, StatusCodes.Status200OK, tail, node.Json).ConfigureAwait(false);
        }
        catch (AskTimeoutException)
        {
            node.System.Stop(collector);
            await WriteError(context, access, new ApiErrorReply(ApiErrorCode.Timeout,
                $"the console of VM '{name}' was not collected within {RequestDeadline.Print(wait)}")).ConfigureAwait(false);
        }
    }

    // Server-sent events: "vm" (VmEventNotice), "ended" (StreamEnded) and "counters" (CountersSnapshot), until the client goes.
    private static async Task Events(HttpContext context, NodeApiAccess access, string nodeName)
    {
        int periodMs = 1000;
        if (context.Request.Query["countersMs"].FirstOrDefault() is { } text &&
            (!int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out periodMs) || periodMs < CountersPeriodMs.Least || periodMs > CountersPeriodMs.Most))
        {
            await WriteError(context, access, ApiErrorReply.Invalid("countersMs",
                $"'{Printable(text)}' is not a period in milliseconds in {CountersPeriodMs.Least}..{CountersPeriodMs.Most}")).ConfigureAwait(false);
            return;
        }
        var (caller, error) = Identify(context, access);
        if (caller is null)
        {
            await WriteError(context, access, error!).ConfigureAwait(false);
            return;
        }
        var node = caller.Node;
        // A client that reads slower than the cluster changes loses the oldest notices, never the node's memory.
        var channel = Channel.CreateBounded<IApiMessage>(new BoundedChannelOptions(1024) { FullMode = BoundedChannelFullMode.DropOldest, SingleReader = true });
        var relay = node.System.ActorOf(EventRelay.Props(channel.Writer), $"http-events-{Interlocked.Increment(ref s_streams)}");
        try
        {
            var reply = await Ask(node, caller.On(new SubscribeVmEventsRequest(null, relay))).ConfigureAwait(false);
            if (reply is ApiErrorReply e)
            {
                await WriteError(context, access, e).ConfigureAwait(false);
                return;
            }
            var response = context.Response;
            response.ContentType = "text/event-stream; charset=utf-8";
            response.Headers.CacheControl = "no-cache";
            response.Headers["X-Accel-Buffering"] = "no";
            await Event(response, "subscribed", reply, node.Json).ConfigureAwait(false);
            await Event(response, "counters", new CountersSnapshot(nodeName, DateTimeOffset.UtcNow, VmCounters.OfThisNode()), node.Json).ConfigureAwait(false);
            using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(periodMs));
            // The stream ends when the client goes, when the endpoint stops (it would otherwise hold the node's
            // shutdown until Kestrel's grace period ends) and when the node's actor system stops.
            var stopping = context.RequestServices.GetRequiredService<IHostApplicationLifetime>().ApplicationStopping;
            using var ended = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, stopping);
            _ = node.System.WhenTerminated.ContinueWith(_ =>
            {
                try
                {
                    ended.Cancel();
                }
                catch (ObjectDisposedException)
                {
                    // The stream had ended already.
                }
            }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
            var aborted = ended.Token;
            var tick = timer.WaitForNextTickAsync(aborted).AsTask();
            var next = channel.Reader.WaitToReadAsync(aborted).AsTask();
            while (!aborted.IsCancellationRequested)
            {
                var done = await Task.WhenAny(tick, next).ConfigureAwait(false);
                if (done.IsCanceled || done.IsFaulted) break;
                if (done == tick)
                {
                    await Event(response, "counters", new CountersSnapshot(nodeName, DateTimeOffset.UtcNow, VmCounters.OfThisNode()), node.Json).ConfigureAwait(false);
                    tick = timer.WaitForNextTickAsync(aborted).AsTask();
                    continue;
                }
                while (channel.Reader.TryRead(out var message))
                    await Event(response, message is StreamEnded ? "ended" : "vm", message, node.Json).ConfigureAwait(false);
                next = channel.Reader.WaitToReadAsync(aborted).AsTask();
            }
        }
        catch (Exception e) when (e is OperationCanceledException or IOException)
        {
            // The client went away.
        }
        finally
        {
            node.System.Stop(relay);
        }
    }

    private static async Task Event(HttpResponse response, string name, object data, JsonSerializerOptions json)
    {
        var text = $"event: {name}\ndata: {JsonSerializer.Serialize(data, data.GetType(), json)}\n\n";
        await response.WriteAsync(text, Encoding.UTF8, response.HttpContext.RequestAborted).ConfigureAwait(false);
        await response.Body.FlushAsync(response.HttpContext.RequestAborted).ConfigureAwait(false);
    }

    // Who calls (the node, or "starting"; the caller's token and deadline), or the error that stops the call here.
    private static (Caller? Caller, ApiErrorReply? Error) Identify(HttpContext context, NodeApiAccess access)
    {
        if (access.Current is not { } node) return (null, Unavailable(access));
        string? token = null;
        var header = context.Request.Headers.Authorization.ToString();
        if (header.Length > 0)
        {
            const string scheme = "Bearer ";
            if (!header.StartsWith(scheme, StringComparison.OrdinalIgnoreCase))
                return (null, new ApiErrorReply(ApiErrorCode.Unauthorized, "token: the Authorization header is not 'Bearer TOKEN'", "token"));
            token = header[scheme.Length..].Trim();
        }
        int? deadline = null;
        if (context.Request.Query["deadlineMs"].FirstOrDefault() is { } text)
        {
            if (!int.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out int ms))
                return (null, ApiErrorReply.Invalid("deadlineMs", $"'{Printable(text)}' is not a whole number of milliseconds"));
            deadline = ms;
        }
        return (new Caller(node, token, deadline), null);
    }

    // The node's gateway and what the HTTP request carries for the API request: its token and deadline.
    private sealed record Caller(NodeApiAccess.Attached Node, string? Token, int? DeadlineMs)
    {
        public ApiRequest On(ApiRequest request) => request with { Token = Token, DeadlineMs = DeadlineMs ?? request.DeadlineMs };
    }

    // The gateway answers within the request's deadline (less its margin); the extra second here only covers the way back.
    private static async Task<object> Ask(NodeApiAccess.Attached node, ApiRequest request)
    {
        var deadline = request.DeadlineMs is { } ms && ms >= 1 && ms <= RequestDeadline.Longest.TotalMilliseconds
            ? TimeSpan.FromMilliseconds(ms) : RequestDeadline.Default;
        try
        {
            return await node.Gateway.Ask<object>(request, deadline + TimeSpan.FromSeconds(1)).ConfigureAwait(false);
        }
        catch (AskTimeoutException)
        {
            return new ApiErrorReply(ApiErrorCode.Timeout, $"the node's API gateway did not answer within {RequestDeadline.Print(deadline)}");
        }
    }

    private static ApiErrorReply Unavailable(NodeApiAccess access) => access.Stopped
        ? new(ApiErrorCode.NodeUnavailable, "the node is shutting down: its actor system has stopped; use another node")
        : new(ApiErrorCode.NodeUnavailable, "the node is starting: its actor system and API gateway are not up yet; try again in a few seconds");

    private static Task WriteError(HttpContext context, NodeApiAccess access, ApiErrorReply error)
    {
        context.Response.Headers.Location = default; // a refused create made nothing to point at
        if (error.Code == ApiErrorCode.Unauthorized)
        {
            context.Response.Headers.WWWAuthenticate = "Bearer";
            // The gateway's advice names the CLI's flags; over HTTP the token travels in a header.
            int advice = error.Message.IndexOf("; pass the cluster", StringComparison.Ordinal);
            if (advice > 0) error = error with { Message = error.Message[..advice] + "; send the cluster's API token as 'Authorization: Bearer TOKEN'" };
        }
        return WriteJson(context, HttpApiStatus.Of(error.Code), error, access.Current?.Json ?? ErrorJson);
    }

    private static async Task WriteJson(HttpContext context, int status, object value, JsonSerializerOptions json)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json; charset=utf-8";
        context.Response.Headers.CacheControl = "no-store";
        await JsonSerializer.SerializeAsync(context.Response.Body, value, value.GetType(), json, context.RequestAborted).ConfigureAwait(false);
    }

    // Text echoed in errors must not smuggle control characters into a terminal or log.
    private static string Printable(string s) => new(s.Take(200).Select(c => char.IsControl(c) ? '?' : c).ToArray());
}
