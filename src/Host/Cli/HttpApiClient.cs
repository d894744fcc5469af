using System.Globalization;
using System.Net.Http.Headers;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using Actorvisor.Host.Api.V1;

namespace Actorvisor.Host.Cli;

/// <summary>
/// A client of a node's HTTP/JSON API (<c>/api/v1</c>, see src/Host/Web) for commands that need no stream: no actor
/// system, one HTTP connection. Sends the v1 request as its route, with the token as <c>Authorization: Bearer</c> and
/// the timeout as <c>deadlineMs</c>, and reads the reply as the v1 record, or the <see cref="ApiErrorReply"/> the node
/// answered with. With a CA certificate the node's HTTPS certificate must chain to it.
/// </summary>
public sealed class HttpApiClient : IDisposable
{
    private static readonly JsonSerializerOptions Json = new(ClusterCliRunner.Json) { WriteIndented = false };

    private readonly HttpClient _http;
    private readonly Uri _base;
    private readonly TimeSpan _timeout;
    private readonly X509Certificate2? _ca;

    /// <summary>A client of the node at <paramref name="baseUrl"/> (e.g. http://127.0.0.1:9464).</summary>
    public HttpApiClient(Uri baseUrl, string? token, TimeSpan timeout, string? caPath)
    {
        ArgumentNullException.ThrowIfNull(baseUrl);
        _base = new Uri(baseUrl.ToString().TrimEnd('/') + "/api/v1/");
        _timeout = timeout;
        var handler = new SocketsHttpHandler { UseProxy = false };
        if (caPath is not null)
        {
            _ca = X509CertificateLoader.LoadCertificateFromFile(caPath);
            var ca = _ca;
            handler.SslOptions.RemoteCertificateValidationCallback = (_, certificate, _, errors) =>
            {
                if (certificate is null) return false;
                // The name must match; the chain is checked against the cluster's CA alone.
                if ((errors & System.Net.Security.SslPolicyErrors.RemoteCertificateNameMismatch) != 0) return false;
                using var chain = new X509Chain();
                chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
                chain.ChainPolicy.CustomTrustStore.Add(ca);
                chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
                using var presented = new X509Certificate2(certificate);
                return chain.Build(presented);
            };
        }
        // The node answers within the deadline it is sent; the extra seconds cover the way back.
        _http = new HttpClient(handler) { Timeout = timeout + TimeSpan.FromSeconds(5) };
        if (!string.IsNullOrEmpty(token)) _http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
    }

    /// <summary>Sends <paramref name="request"/>; the reply, or the node's error, or <see cref="ApiErrorCode.NodeUnavailable"/> when it cannot be reached.</summary>
    public async Task<IApiReply> RequestAsync(ApiRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        var (method, path, body, replyType) = Route(request);
        var deadline = (int)Math.Min(_timeout.TotalMilliseconds, RequestDeadline.Longest.TotalMilliseconds);
        var uri = new Uri(_base, $"{path}{(path.Contains('?', StringComparison.Ordinal) ? '&' : '?')}deadlineMs={deadline.ToString(CultureInfo.InvariantCulture)}");
        using var message = new HttpRequestMessage(method, uri);
        if (body is not null) message.Content = new StringContent(JsonSerializer.Serialize(body, Json), Encoding.UTF8, "application/json");
        try
        {
            using var response = await _http.SendAsync(message, cancellationToken).ConfigureAwait(false);
            var text = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                var expected = response.IsSuccessStatusCode ? replyType : typeof(ApiErrorReply);
                if (!HttpApiReplyReader.TryRead(text, expected, out var reply)) reply = (IApiReply?)JsonSerializer.Deserialize(text, expected, Json);
                if (reply is not null) return reply;
            }
            catch (JsonException)
            {
            }
            return new ApiErrorReply(ApiErrorCode.NodeUnavailable,
                $"{uri.GetLeftPart(UriPartial.Path)} answered {(int)response.StatusCode} {response.ReasonPhrase} without an API reply; is it a node's HTTP endpoint?");
        }
        catch (HttpRequestException e)
        {
            return new ApiErrorReply(ApiErrorCode.NodeUnavailable, $"{_base.GetLeftPart(UriPartial.Authority)} cannot be reached: {e.Message}");
        }
        catch (TaskCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return new ApiErrorReply(ApiErrorCode.Timeout, $"{_base.GetLeftPart(UriPartial.Authority)} did not answer within {RequestDeadline.Print(_http.Timeout)}");
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _http.Dispose();
        _ca?.Dispose();
    }

    // The route of each request the HTTP API serves without a stream.
    private static (HttpMethod Method, string Path, object? Body, Type Reply) Route(ApiRequest request) => request switch
    {
        ListVmsRequest r => (HttpMethod.Get, r.Node is null ? "vms" : $"vms?node={Uri.EscapeDataString(r.Node)}", null, typeof(VmListReply)),
        DescribeVmRequest r => (HttpMethod.Get, $"vms/{Uri.EscapeDataString(r.Name)}", null, typeof(VmDescriptionReply)),
        ClusterStatusRequest => (HttpMethod.Get, "cluster", null, typeof(ClusterStatusReply)),
        CreateVmRequest r => (HttpMethod.Post, "vms", new { spec = r.Spec }, typeof(VmReply)),
        StartVmRequest r => (HttpMethod.Post, $"vms/{Uri.EscapeDataString(r.Name)}/start", null, typeof(VmReply)),
        PauseVmRequest r => (HttpMethod.Post, $"vms/{Uri.EscapeDataString(r.Name)}/pause", null, typeof(VmReply)),
        ResumeVmRequest r => (HttpMethod.Post, $"vms/{Uri.EscapeDataString(r.Name)}/resume", null, typeof(VmReply)),
        StopVmRequest r => (HttpMethod.Post, $"vms/{Uri.EscapeDataString(r.Name)}/stop", null, typeof(VmReply)),
        DestroyVmRequest r => (HttpMethod.Post, $"vms/{Uri.EscapeDataString(r.Name)}/destroy", null, typeof(VmReply)),
        _ => throw new ArgumentException($"{request.GetType().Name} is not served by the HTTP API without a stream; use the cluster client", nameof(request)),
    };
}
