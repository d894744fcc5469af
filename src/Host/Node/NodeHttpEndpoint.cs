using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Security.Cryptography.X509Certificates;
using Actorvisor.Hardware.Metrics;
using Actorvisor.Host.Web;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using OpenTelemetry.Metrics;

namespace Actorvisor.Host.Node;

/// <summary>
/// The node's HTTP endpoint (Node:HttpEndpoint, off by default): owns a small Kestrel server serving
/// <c>/metrics</c> (Prometheus text, through the OpenTelemetry Prometheus exporter, of the Actorvisor.Hardware and
/// Actorvisor.Host meters; the node's API token is required as <c>Authorization: Bearer</c> when one is
/// configured), <c>/healthz</c> (the process is alive and serving) and <c>/readyz</c> (<see cref="NodeReadiness"/>),
/// both open, the HTTP/JSON API under <c>/api/v1</c> (<see cref="HttpApiV1"/>, through the node's API gateway, which
/// checks the token) and the web view at <c>/</c> (<see cref="WebPage"/>). Anything else is 404. With the node's TLS
/// settings it serves HTTPS with the node's certificate (clients check it against the cluster's CA; the token
/// authenticates them). It starts before the actor system and stops after it, so orchestrators see
/// the node not ready while it joins and while it leaves.
/// </summary>
public sealed class NodeHttpEndpoint : IHostedService, IAsyncDisposable
{
    private readonly IPEndPoint _endpoint;
    private readonly byte[]? _tokenHash;
    private readonly NodeReadiness _readiness;
    private readonly NodeApiAccess _api;
    private readonly string _nodeName;
    private readonly TlsSettings? _tls;
    private readonly ILoggerFactory _loggers;
    private WebApplication? _app;

    /// <summary>
    /// An endpoint on <paramref name="endpoint"/> for node <paramref name="nodeName"/>; <paramref name="token"/> null or empty
    /// leaves /metrics open; the API is answered through <paramref name="api"/>; <paramref name="tls"/> turns on HTTPS.
    /// </summary>
    public NodeHttpEndpoint(IPEndPoint endpoint, string? token, NodeReadiness readiness, NodeApiAccess api, string nodeName, TlsSettings? tls, ILoggerFactory loggers)
    {
        _endpoint = endpoint;
        _tokenHash = string.IsNullOrEmpty(token) ? null : SHA256.HashData(Encoding.UTF8.GetBytes(token));
        _readiness = readiness;
        _api = api;
        _nodeName = nodeName;
        _tls = tls;
        _loggers = loggers;
    }

    /// <summary>The address the server listens on (the port is the one bound when 0 was asked for).</summary>
    public IPEndPoint Bound { get; private set; } = new(IPAddress.None, 0);

    /// <inheritdoc />
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { ApplicationName = "actorvisor-node-http", Args = [] });
        builder.Logging.ClearProviders();
        builder.Services.AddSingleton(_loggers);
        // The node's host owns the process lifetime (signals, systemd); this server only starts and stops with it.
        builder.Services.AddSingleton<IHostLifetime, PassiveLifetime>();
        var certificate = _tls is null ? null : X509CertificateLoader.LoadPkcs12FromFile(_tls.CertificatePath, _tls.CertificatePassword);
        builder.WebHost.UseKestrel(k =>
        {
            k.Listen(_endpoint, listen =>
            {
                if (certificate is not null) listen.UseHttps(certificate);
            });
            k.AddServerHeader = false;
        });
        builder.Services.AddOpenTelemetry().WithMetrics(m => m
            .AddMeter(HardwareMeter.Name, Actors.Metrics.ActorsMeter.Name, NodeMetrics.Name)
            .AddPrometheusExporter(o => o.ScrapeResponseCacheDurationMilliseconds = 0));
        var app = builder.Build();
        app.Use(RequireTokenForMetrics);
        app.MapGet("/healthz", () => Results.Text("ok: alive\n"));
        app.MapGet("/readyz", () =>
        {
            var (ready, reason) = _readiness.Check();
            return Results.Text(reason + "\n", statusCode: ready ? StatusCodes.Status200OK : StatusCodes.Status503ServiceUnavailable);
        });
        app.MapPrometheusScrapingEndpoint("/metrics");
        HttpApiV1.Map(app, _api, _nodeName);
        WebPage.Map(app);
        app.MapFallback((HttpContext c) => Results.Text(
            $"not found: {c.Request.Method} {c.Request.Path}; this node serves / (the web view), {HttpApiV1.Prefix}/..., /metrics, /healthz and /readyz\n",
            statusCode: StatusCodes.Status404NotFound));
        try
        {
            await app.StartAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (IOException e)
        {
            await app.DisposeAsync().ConfigureAwait(false);
            throw new NodeConfigException("Node:HttpEndpoint", $"{_endpoint} cannot be bound: {e.Message}");
        }
        _app = app;
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses.FirstOrDefault();
        Bound = address is not null && Uri.TryCreate(address, UriKind.Absolute, out var uri)
            ? new IPEndPoint(_endpoint.Address, uri.Port)
            : _endpoint;
        _loggers.CreateLogger("Actorvisor.Node").LogInformation("HTTP endpoint (web view, /api/v1, /metrics, /healthz, /readyz) on {Scheme}://{Endpoint}",
            certificate is null ? "http" : "https", Bound);
    }

    /// <inheritdoc />
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_app is { } app) await app.StopAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (_app is { } app) await app.DisposeAsync().ConfigureAwait(false);
        _app = null;
    }

    private async Task RequireTokenForMetrics(HttpContext context, Func<Task> next)
    {
        if (_tokenHash is null || !context.Request.Path.StartsWithSegments("/metrics"))
        {
            await next().ConfigureAwait(false);
            return;
        }
        string header = context.Request.Headers.Authorization.ToString();
        const string scheme = "Bearer ";
        string? token = header.StartsWith(scheme, StringComparison.OrdinalIgnoreCase) ? header[scheme.Length..].Trim() : null;
        if (token is not null && CryptographicOperations.FixedTimeEquals(SHA256.HashData(Encoding.UTF8.GetBytes(token)), _tokenHash))
        {
            await next().ConfigureAwait(false);
            return;
        }
        context.Response.StatusCode = StatusCodes.Status401Unauthorized;
        context.Response.Headers.WWWAuthenticate = "Bearer";
        context.Response.ContentType = "text/plain; charset=utf-8";
        await context.Response.WriteAsync(
            $"unauthorized: {(token is null ? "missing" : "wrong")} API token; /metrics needs the node's API token as 'Authorization: Bearer TOKEN'\n").ConfigureAwait(false);
    }

    // A lifetime that waits for nothing and handles no signal: the node's own host does that.
    private sealed class PassiveLifetime : IHostLifetime
    {
        public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
