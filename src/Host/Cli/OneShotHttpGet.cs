using System.Globalization;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using System.Text;

namespace Actorvisor.Host.Cli;

/// <summary>
/// One HTTP/1.1 GET on a connection of its own (<c>Connection: close</c>): a socket, TLS through an
/// <see cref="SslStream"/> for https, the request written by hand and the answer read until its body is complete
/// (Content-Length or chunked). What a CLI process asking a node one question needs, without HttpClient's handler
/// pipeline, pools and header collections, which a process that sends one request pays for in JIT time and
/// assemblies loaded at every start (measured in `bench cli`). With a CA the node's certificate must chain to it
/// alone (<see cref="ClusterCaTrust"/>) and name the host asked.
/// </summary>
public static class OneShotHttpGet
{
    /// <summary>The most a reply may hold (a list of 10,000 VMs is about 2 MiB).</summary>
    public const int MaxResponseBytes = 64 << 20;

    /// <summary>A reply: its status code and reason phrase, and its body as UTF-8 text.</summary>
    public sealed record Response(int Status, string Reason, string Body);

    /// <summary>GETs <paramref name="url"/>, with <paramref name="token"/> as <c>Authorization: Bearer</c> when given.</summary>
    /// <exception cref="IOException">The connection failed or closed before the answer was complete, or TLS failed.</exception>
    /// <exception cref="SocketException">The node could not be reached.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled (the caller's deadline).</exception>
    /// <exception cref="InvalidDataException">The answer is not an HTTP/1.1 response.</exception>
    public static async Task<Response> GetAsync(Uri url, string? token, X509Certificate2? ca, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(url);
        if (token is not null && token.Any(char.IsControl)) throw new ArgumentException("the token holds a control character", nameof(token));
        using var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        // An address is connected to as it is; a name is resolved first (its addresses tried in turn).
        EndPoint endPoint = IPAddress.TryParse(url.DnsSafeHost, out var address) ? new IPEndPoint(address, url.Port) : new DnsEndPoint(url.DnsSafeHost, url.Port);
        await socket.ConnectAsync(endPoint, cancellationToken).ConfigureAwait(false);
        CliTiming.Mark("connected");
        await using var network = new NetworkStream(socket, ownsSocket: false);
        Stream stream = network;
        SslStream? tls = null;
        try
        {
            if (url.Scheme == Uri.UriSchemeHttps)
            {
                tls = new SslStream(network, leaveInnerStreamOpen: true);
                await tls.AuthenticateAsClientAsync(ClusterCaTrust.ClientOptions(url.DnsSafeHost, ca), cancellationToken).ConfigureAwait(false);
                CliTiming.Mark("tls handshake done");
                stream = tls;
            }
            var request = new StringBuilder()
                .Append("GET ").Append(url.PathAndQuery).Append(" HTTP/1.1\r\n")
                .Append("Host: ").Append(url.Authority).Append("\r\n")
                .Append("Accept: application/json\r\n")
                .Append("User-Agent: actorvisor-cli\r\n")
                .Append("Connection: close\r\n");
            if (!string.IsNullOrEmpty(token)) request.Append("Authorization: Bearer ").Append(token).Append("\r\n");
            await stream.WriteAsync(Encoding.ASCII.GetBytes(request.Append("\r\n").ToString()), cancellationToken).ConfigureAwait(false);
            await stream.FlushAsync(cancellationToken).ConfigureAwait(false);
            return await ReadAsync(stream, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            if (tls is not null) await tls.DisposeAsync().ConfigureAwait(false);
        }
    }

    // Reads until the response is complete (or the node closes the connection, which ends a body of no stated length).
    private static async Task<Response> ReadAsync(Stream stream, CancellationToken cancellationToken)
    {
        var buffer = new byte[16 * 1024];
        int length = 0;
        while (true)
        {
            if (length == buffer.Length)
            {
                if (buffer.Length >= MaxResponseBytes) throw new InvalidDataException($"the answer is longer than {MaxResponseBytes >> 20} MiB");
                Array.Resize(ref buffer, Math.Min(buffer.Length * 2, MaxResponseBytes));
            }
            int read = await stream.ReadAsync(buffer.AsMemory(length), cancellationToken).ConfigureAwait(false);
            bool closed = read == 0;
            length += read;
            if (TryParse(buffer.AsSpan(0, length), closed) is { } response)
            {
                CliTiming.Mark("response read");
                return response;
            }
            if (closed) throw new IOException($"the connection closed after {length} bytes, before the answer was complete");
        }
    }

    /// <summary>The response in <paramref name="data"/> when it is complete; null when more is to come.</summary>
    /// <param name="data">What was read so far.</param>
    /// <param name="closed">The node closed the connection: a body without a stated length ends here.</param>
    /// <exception cref="InvalidDataException">Not an HTTP/1.x response, or a malformed length or chunk.</exception>
    internal static Response? TryParse(ReadOnlySpan<byte> data, bool closed)
    {
        int headerEnd = data.IndexOf("\r\n\r\n"u8);
        if (headerEnd < 0) return closed && data.Length > 0 ? throw new InvalidDataException("the answer ended inside its headers") : null;
        var lines = Encoding.ASCII.GetString(data[..headerEnd]).Split("\r\n");
        var statusLine = lines[0].Split(' ', 3);
        if (statusLine.Length < 2 || !statusLine[0].StartsWith("HTTP/1.", StringComparison.Ordinal)
            || !int.TryParse(statusLine[1], NumberStyles.None, CultureInfo.InvariantCulture, out int status))
            throw new InvalidDataException($"not an HTTP/1.1 response: '{lines[0]}'");
        long? contentLength = null;
        bool chunked = false;
        foreach (var line in lines.Skip(1))
        {
            int colon = line.IndexOf(':', StringComparison.Ordinal);
            if (colon <= 0) continue;
            var name = line[..colon].Trim();
            var value = line[(colon + 1)..].Trim();
            if (name.Equals("Content-Length", StringComparison.OrdinalIgnoreCase))
                contentLength = long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var n) ? n : throw new InvalidDataException($"Content-Length '{value}'");
            else if (name.Equals("Transfer-Encoding", StringComparison.OrdinalIgnoreCase))
                chunked = value.EndsWith("chunked", StringComparison.OrdinalIgnoreCase);
        }
        var rest = data[(headerEnd + 4)..];
        byte[] body;
        if (chunked)
        {
            if (Dechunk(rest) is not { } whole) return closed ? throw new InvalidDataException("the answer ended inside a chunk") : null;
            body = whole;
        }
        else if (contentLength is { } expected)
        {
            if (rest.Length < expected) return closed ? throw new InvalidDataException($"the answer ended after {rest.Length} of {expected} body bytes") : null;
            body = rest[..(int)expected].ToArray();
        }
        else
        {
            // No length stated: the body runs to the end of the connection (Connection: close).
            if (!closed) return null;
            body = rest.ToArray();
        }
        return new Response(status, statusLine.Length > 2 ? statusLine[2] : "", Encoding.UTF8.GetString(body));
    }

    // The body of a chunked transfer when its last chunk has arrived, null before.
    private static byte[]? Dechunk(ReadOnlySpan<byte> data)
    {
        var body = new MemoryStream();
        while (true)
        {
            int lineEnd = data.IndexOf("\r\n"u8);
            if (lineEnd < 0) return null;
            var sizeText = Encoding.ASCII.GetString(data[..lineEnd]);
            int extension = sizeText.IndexOf(';', StringComparison.Ordinal);
            if (extension >= 0) sizeText = sizeText[..extension];
            if (!int.TryParse(sizeText.Trim(), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out int size) || size < 0)
                throw new InvalidDataException($"chunk size '{sizeText}'");
            data = data[(lineEnd + 2)..];
            if (size == 0) return body.ToArray();
            if (data.Length < size + 2) return null;
            body.Write(data[..size]);
            data = data[(size + 2)..];
        }
    }
}
