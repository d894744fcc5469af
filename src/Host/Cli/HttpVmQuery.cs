using System.Globalization;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using Actorvisor.Host.Api.V1;

namespace Actorvisor.Host.Cli;

/// <summary>
/// `vm list` and `vm describe` through a node's HTTP/JSON API (<c>/api/v1</c>, see src/Host/Web): one GET
/// (<see cref="OneShotHttpGet"/>) with the token as <c>Authorization: Bearer</c> and the timeout as <c>deadlineMs</c>,
/// the reply read as its v1 record (<see cref="HttpApiReplyReader"/>) and printed as the cluster client prints it: the
/// tables of <see cref="VmTables"/>, or with --json the node's document indented (the same fields and names the
/// serializer would write, without building the serializer's converters). Exit codes: 0, 1 for the node's refusals
/// and no answer, 2 for an invalid request. Used by the full command line and by <see cref="QuickVmCommandLine"/>.
/// </summary>
public sealed class HttpVmQuery
{
    private HttpVmQuery(Uri node, string? token, string? caPath, TimeSpan timeout, bool json)
    {
        Node = node;
        Token = token;
        CaPath = caPath;
        Timeout = timeout;
        Json = json;
    }

    /// <summary>The node's base URL (http[s]://HOST:PORT).</summary>
    public Uri Node { get; }

    /// <summary>The API token, if any.</summary>
    public string? Token { get; }

    /// <summary>The cluster CA the node's certificate must chain to (https), if given.</summary>
    public string? CaPath { get; }

    /// <summary>How long the node may take (sent as its deadline).</summary>
    public TimeSpan Timeout { get; }

    /// <summary>Print JSON instead of tables.</summary>
    public bool Json { get; }

    /// <summary>
    /// The query from the options as typed (null: not given), each falling back to its environment variable as the
    /// cluster client's do (ACTORVISOR_TOKEN, ACTORVISOR_TOKEN_FILE, ACTORVISOR_TLS_CA); null and a message naming the
    /// option when one is bad (exit 2). A token file must be readable by its owner only.
    /// </summary>
    public static HttpVmQuery? Resolve(string url, string? token, string? tokenFile, string? caPath, double timeoutSeconds, bool json, out string error)
    {
        ArgumentNullException.ThrowIfNull(url);
        static string? Env(string name) => Environment.GetEnvironmentVariable(name) is { Length: > 0 } v ? v : null;
        error = "";
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https") || uri.AbsolutePath.Trim('/').Length > 0)
        {
            error = $"--http: '{url}' is not http://HOST:PORT or https://HOST:PORT";
            return null;
        }
        if (!(timeoutSeconds > 0 && timeoutSeconds <= 3600))
        {
            error = $"--timeout: {timeoutSeconds.ToString(CultureInfo.InvariantCulture)} is not a number of seconds in (0, 3600]";
            return null;
        }
        token ??= Env("ACTORVISOR_TOKEN");
        // Checked as the cluster-client path and the node check theirs: owner-only, or refused naming the fix.
        if (token is null && (tokenFile ?? Env("ACTORVISOR_TOKEN_FILE")) is { } file && !ClusterConnectionOptions.TryReadSecret("--token-file", file, out token, out error))
            return null;
        if (token is not null && token.Any(char.IsControl))
        {
            error = "--token: the token holds a control character (a line break?)";
            return null;
        }
        caPath ??= Env("ACTORVISOR_TLS_CA");
        if (caPath is not null && !File.Exists(caPath))
        {
            error = $"--tls-ca: {Path.GetFullPath(caPath)} does not exist";
            return null;
        }
        return new HttpVmQuery(uri, token, caPath, TimeSpan.FromSeconds(timeoutSeconds), json);
    }

    /// <summary>`vm list [--on NODE]`: asks, prints, returns the exit code.</summary>
    public Task<int> ListAsync(string? node, CancellationToken cancellationToken = default) => RunAsync(ListPath(node), typeof(VmListReply), cancellationToken);

    /// <summary>The list of VMs (of <paramref name="node"/> only, when given), or the error (for `vm top`, which prints it itself).</summary>
    public async Task<IApiReply> AskListAsync(string? node, CancellationToken cancellationToken = default) =>
        (await RequestAsync(ListPath(node), typeof(VmListReply), cancellationToken).ConfigureAwait(false)).Reply;

    private static string ListPath(string? node) => node is null ? "vms" : $"vms?node={Uri.EscapeDataString(node)}";

    /// <summary>`vm describe NAME` (a valid name): asks, prints, returns the exit code.</summary>
    public Task<int> DescribeAsync(string name, CancellationToken cancellationToken = default) =>
        RunAsync($"vms/{Uri.EscapeDataString(name)}", typeof(VmDescriptionReply), cancellationToken);

    private async Task<int> RunAsync(string path, Type replyType, CancellationToken cancellationToken)
    {
        var (reply, text) = await RequestAsync(path, replyType, cancellationToken).ConfigureAwait(false);
        switch (reply)
        {
            case ApiErrorReply failure:
                if (Json) WriteIndented(text ?? ErrorJson(failure));
                else Console.Error.WriteLine($"actorvisor: {failure.Code}: {failure.Message}");
                return failure.Code == ApiErrorCode.InvalidRequest ? ExitCodes.Usage : ClusterCliRunner.OperationFailed;
            case VmListReply list when !Json:
                VmTables.PrintList(list);
                break;
            case VmDescriptionReply description when !Json:
                VmTables.PrintDescription(description);
                break;
            default:
                WriteIndented(text!);
                break;
        }
        CliTiming.Mark("printed");
        return ExitCodes.Ok;
    }

    // The reply and the JSON it was read from (null for an error made here: the node was not reached or said nothing readable).
    private async Task<(IApiReply Reply, string? Text)> RequestAsync(string path, Type replyType, CancellationToken cancellationToken)
    {
        var deadline = (int)Math.Min(Timeout.TotalMilliseconds, RequestDeadline.Longest.TotalMilliseconds);
        var url = new Uri($"{Node.GetLeftPart(UriPartial.Authority)}/api/v1/{path}{(path.Contains('?', StringComparison.Ordinal) ? '&' : '?')}deadlineMs={deadline.ToString(CultureInfo.InvariantCulture)}");
        var authority = Node.GetLeftPart(UriPartial.Authority);
        // The node answers within the deadline it is sent; the extra seconds cover the way back.
        var wait = Timeout + TimeSpan.FromSeconds(5);
        using var deadlineSource = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadlineSource.CancelAfter(wait);
        OneShotHttpGet.Response response;
        try
        {
            using var ca = CaPath is null ? null : X509CertificateLoader.LoadCertificateFromFile(CaPath);
            response = await OneShotHttpGet.GetAsync(url, Token, ca, deadlineSource.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return (new ApiErrorReply(ApiErrorCode.Timeout, $"{authority} did not answer within {RequestDeadline.Print(wait)}"), null);
        }
        catch (Exception e) when (e is SocketException or IOException or AuthenticationException)
        {
            return (new ApiErrorReply(ApiErrorCode.NodeUnavailable, $"{authority} cannot be reached: {e.Message}"), null);
        }
        catch (InvalidDataException e)
        {
            return (new ApiErrorReply(ApiErrorCode.NodeUnavailable, $"{authority} did not answer in HTTP/1.1 ({e.Message}); is it a node's HTTP endpoint?"), null);
        }
        try
        {
            var expected = response.Status is >= 200 and < 300 ? replyType : typeof(ApiErrorReply);
            if (HttpApiReplyReader.TryRead(response.Body, expected, out var reply) && reply is not null)
            {
                CliTiming.Mark("reply parsed");
                return (reply, response.Body);
            }
        }
        catch (JsonException)
        {
        }
        return (new ApiErrorReply(ApiErrorCode.NodeUnavailable,
            $"{url.GetLeftPart(UriPartial.Path)} answered {response.Status} {response.Reason} without an API reply; is it a node's HTTP endpoint?"), null);
    }

    // An error made here, as the serializer writes an ApiErrorReply (camelCase, the code by name).
    private static string ErrorJson(ApiErrorReply error)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteString("code", error.Code.ToString());
            writer.WriteString("message", error.Message);
            if (error.Field is null) writer.WriteNull("field");
            else writer.WriteString("field", error.Field);
            writer.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    // The document indented, as the CLI prints JSON (ClusterCliRunner.Json: two spaces, the default escaping).
    private static void WriteIndented(string json)
    {
        using var document = JsonDocument.Parse(json);
        using var stdout = Console.OpenStandardOutput();
        using (var writer = new Utf8JsonWriter(stdout, new JsonWriterOptions { Indented = true }))
            document.WriteTo(writer);
        stdout.WriteByte((byte)'\n');
    }
}
