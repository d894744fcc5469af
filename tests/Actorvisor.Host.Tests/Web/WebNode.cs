using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using Actorvisor.Hardware.Soft;
using Actorvisor.Host.Cluster;
using Actorvisor.Host.Node;
using Actorvisor.Host.Tests.Cluster;
using Microsoft.Extensions.Hosting;

namespace Actorvisor.Host.Tests.Web;

/// <summary>
/// One node hosted in this process (software accelerator, loopback, free ports) with its HTTP endpoint on and an API
/// token, and an HTTP client for it: what the HTTP API and web view tests drive.
/// </summary>
public sealed class WebNode : IAsyncDisposable
{
    /// <summary>Forming a one-node cluster takes 1-3 s here; a loaded CI machine gets far more.</summary>
    public static readonly TimeSpan Patience = TimeSpan.FromSeconds(90);

    public const string Token = "web-token";

    private readonly string _dir = Directory.CreateTempSubdirectory("actorvisor-web-").FullName;
    private readonly SoftAccelerator _accelerator = new();
    private IHost? _host;

    private WebNode(HttpClient http, string scheme)
    {
        Http = http;
        Scheme = scheme;
    }

    public HttpClient Http { get; }

    public string Scheme { get; }

    public int HttpPort { get; private set; }

    public string BaseUrl => $"{Scheme}://127.0.0.1:{HttpPort}";

    /// <summary>
    /// Starts node <paramref name="name"/>; with <paramref name="tls"/> its endpoint serves HTTPS and the client trusts only
    /// <paramref name="trustedCa"/>.
    /// </summary>
    public static async Task<WebNode> StartAsync(string name = "w1", TlsSettings? tls = null, X509Certificate2? trustedCa = null)
    {
        var handler = new SocketsHttpHandler();
        if (trustedCa is not null)
        {
            handler.SslOptions.RemoteCertificateValidationCallback = (_, certificate, _, _) =>
            {
                if (certificate is null) return false;
                using var chain = new X509Chain();
                chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
                chain.ChainPolicy.CustomTrustStore.Add(trustedCa);
                chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
                return chain.Build(new X509Certificate2(certificate));
            };
        }
        var node = new WebNode(new HttpClient(handler) { Timeout = TimeSpan.FromSeconds(60) }, tls is null ? "http" : "https");
        var ports = LoopbackCluster.FreePorts(2);
        node.HttpPort = ports[1];
        var data = Path.Combine(node._dir, name);
        Directory.CreateDirectory(data);
        var settings = new NodeSettings
        {
            NodeName = name,
            Port = ports[0],
            DataDir = data,
            ImageDirectories = [],
            Vcpus = 8,
            MemoryBytes = 256UL << 20,
            ApiToken = Token,
            Tls = tls,
            HttpEndpoint = new IPEndPoint(IPAddress.Loopback, ports[1]),
            StableAfter = TimeSpan.FromSeconds(5),
            HeartbeatPause = TimeSpan.FromSeconds(5),
            LogLevel = "Warning",
        };
        node._host = NodeHost.Build(settings, node._accelerator);
        await node._host.StartAsync();
        await Eventually.HoldsAsync(async () =>
        {
            var (status, body) = await node.Send(HttpMethod.Get, "/readyz", bearer: null);
            return status == HttpStatusCode.OK ? null : $"/readyz answered {(int)status} {body.Trim()}";
        }, Patience);
        return node;
    }

    public async ValueTask DisposeAsync()
    {
        if (_host is not null)
        {
            await _host.StopAsync(TimeSpan.FromSeconds(60));
            _host.Dispose();
        }
        _accelerator.Dispose();
        Http.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    /// <summary>Sends <paramref name="method"/> <paramref name="path"/> with the node's token (unless told otherwise) and an optional raw JSON body.</summary>
    public async Task<(HttpStatusCode Status, string Body)> Send(HttpMethod method, string path, string? bearer = Token, string? json = null, string? authorization = null)
    {
        using var request = new HttpRequestMessage(method, BaseUrl + path);
        if (authorization is not null) request.Headers.TryAddWithoutValidation("Authorization", authorization);
        else if (bearer is not null) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", bearer);
        if (json is not null) request.Content = new StringContent(json, Encoding.UTF8, "application/json");
        using var response = await Http.SendAsync(request);
        return (response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    /// <summary>Like <see cref="Send"/>, the body parsed as JSON.</summary>
    public async Task<(HttpStatusCode Status, JsonElement Json)> SendJson(HttpMethod method, string path, string? bearer = Token, string? json = null, string? authorization = null)
    {
        var (status, body) = await Send(method, path, bearer, json, authorization);
        try
        {
            return (status, JsonDocument.Parse(body).RootElement.Clone());
        }
        catch (JsonException e)
        {
            throw new Xunit.Sdk.XunitException($"{method} {path} answered {(int)status} with a body that is not JSON ({e.Message}): {body}");
        }
    }

    /// <summary>A create request's body for a library guest.</summary>
    public static string CreateBody(string name, string image, int vcpus = 1, ulong memoryBytes = 16UL << 20) =>
        JsonSerializer.Serialize(new { spec = new { name, vcpus, memoryBytes, image } });
}
