using System.Net;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using Actorvisor.Host.Cluster;
using Actorvisor.Host.Node;

namespace Actorvisor.Host.Tests.Node;

/// <summary>TLS on a migration stream: both ends of one cluster CA talk; a peer of another CA is refused by the handshake.</summary>
public sealed class MigrationStreamTlsTests : IDisposable
{
    private const string Password = "migration-test";
    private readonly string _root = Directory.CreateTempSubdirectory("actorvisor-migration-tls-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private static MigrationStreamTls Of(LoopbackCertificates ca, string name) =>
        new(X509CertificateLoader.LoadPkcs12FromFile(ca.Issue(name, Password), Password), X509CertificateLoader.LoadCertificateFromFile(ca.CaPath));

    // Connects over loopback TCP, handshakes both ends at once, sends the bytes source -> target; returns what arrived.
    private static async Task<byte[]> Send(MigrationStreamTls source, MigrationStreamTls target, byte[] bytes)
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        try
        {
            using var client = new TcpClient();
            var accepting = listener.AcceptTcpClientAsync();
            await client.ConnectAsync(IPAddress.Loopback, ((IPEndPoint)listener.LocalEndpoint).Port);
            using var accepted = await accepting;
            var serving = Task.Run(() =>
            {
                try
                {
                    using var stream = target.Server(accepted.GetStream());
                    Assert.True(MigrationStreamTls.IsMutual(stream));
                    var received = new byte[bytes.Length];
                    stream.ReadExactly(received);
                    stream.WriteByte(1); // the acknowledgement the source waits for before it closes, as a migration's Ready
                    stream.Flush();
                    return received;
                }
                catch (Exception e) when (e is AuthenticationException or IOException)
                {
                    // As the receiver does: the connection closes, so the source's next read fails too.
                    accepted.Close();
                    throw;
                }
            });
            var sending = Task.Run(() =>
            {
                try
                {
                    using var stream = source.Client(client.GetStream());
                    stream.Write(bytes);
                    stream.Flush();
                    // As MigrationChannel does: a stream that ends instead of acknowledging is an EndOfStreamException.
                    // Under TLS 1.3 the client's handshake completes before the server judges its certificate, so a refused
                    // source may see the server's close as the end of the stream rather than as a handshake failure.
                    var acknowledgement = stream.ReadByte();
                    if (acknowledgement < 0) throw new EndOfStreamException("the target closed the stream without acknowledging");
                    Assert.Equal(1, acknowledgement);
                }
                catch (Exception e) when (e is AuthenticationException or IOException)
                {
                    client.Close();
                    throw;
                }
            });
            // Bounded for a failure only: a loopback handshake takes milliseconds.
            await Task.WhenAll(sending, serving).WaitAsync(TimeSpan.FromSeconds(60));
            return await serving;
        }
        finally
        {
            listener.Stop();
        }
    }

    [Fact]
    public async Task Two_nodes_of_one_cluster_ca_carry_the_stream_encrypted_and_mutually_authenticated()
    {
        using var ca = new LoopbackCertificates(Path.Combine(_root, "ca"), "cluster-ca");
        var bytes = Enumerable.Range(0, 100_000).Select(i => (byte)(i * 7)).ToArray();
        Assert.Equal(bytes, await Send(Of(ca, "n1"), Of(ca, "n2"), bytes));
    }

    [Fact]
    public async Task A_source_with_a_certificate_of_another_ca_is_refused()
    {
        using var ca = new LoopbackCertificates(Path.Combine(_root, "ca"), "cluster-ca");
        using var other = new LoopbackCertificates(Path.Combine(_root, "other"), "other-ca");
        var stranger = new MigrationStreamTls(X509CertificateLoader.LoadPkcs12FromFile(other.Issue("intruder", Password), Password),
            X509CertificateLoader.LoadCertificateFromFile(ca.CaPath));
        var refused = await Assert.ThrowsAnyAsync<Exception>(() => Send(stranger, Of(ca, "n2"), [1, 2, 3]));
        Assert.True(refused is AuthenticationException or IOException, refused.ToString());
    }
}
