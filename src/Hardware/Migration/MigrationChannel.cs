using System.Buffers.Binary;

namespace Actorvisor.Hardware.Migration;

/// <summary>
/// The framing of a migration stream over any byte stream (a TCP connection between two node daemons): each frame is
/// a <see cref="MigrationFrameKind"/> byte, a little-endian u32 body length and the body. It owns the stream and counts
/// the bytes it wrote. Writes are buffered until <see cref="Flush"/>; one thread writes and one reads at a time
/// (<see cref="ReadUnflushed"/> lets them be two threads).
/// </summary>
public sealed class MigrationChannel : IDisposable
{
    /// <summary>The largest frame body either side accepts (a page batch is far smaller; a state blob too).</summary>
    public const int MaxBodyBytes = 64 << 20;

    private const int FrameHeaderBytes = 5;
    private readonly Stream _stream;
    private readonly BufferedStream _writer;
    private long _written;
    private long _read;

    /// <summary>A channel over <paramref name="stream"/>, which it owns.</summary>
    public MigrationChannel(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        _stream = stream;
        _writer = new BufferedStream(stream, 1 << 20);
    }

    /// <summary>Bytes written so far, frame headers included.</summary>
    public long BytesWritten => Interlocked.Read(ref _written);

    /// <summary>Bytes read so far, frame headers included (what a <see cref="RoundAcknowledgement"/> reports back).</summary>
    public long BytesRead => Interlocked.Read(ref _read);

    /// <summary>Writes one frame (buffered).</summary>
    /// <exception cref="MigrationException">the stream broke.</exception>
    public void Write(MigrationFrameKind kind, ReadOnlySpan<byte> body)
    {
        if (body.Length > MaxBodyBytes) throw new ArgumentException($"a {kind} frame of {body.Length} bytes is larger than {MaxBodyBytes}", nameof(body));
        Span<byte> head = stackalloc byte[FrameHeaderBytes];
        head[0] = (byte)kind;
        BinaryPrimitives.WriteUInt32LittleEndian(head[1..], (uint)body.Length);
        try
        {
            _writer.Write(head);
            _writer.Write(body);
        }
        catch (Exception e) when (IsBreak(e))
        {
            throw Broke(e, $"sending a {kind} frame");
        }
        Interlocked.Add(ref _written, FrameHeaderBytes + body.Length);
    }

    /// <summary>Writes one frame whose body is UTF-8 <paramref name="text"/>.</summary>
    public void Write(MigrationFrameKind kind, string text) => Write(kind, System.Text.Encoding.UTF8.GetBytes(text));

    /// <summary>Sends what is buffered.</summary>
    /// <exception cref="MigrationException">the stream broke.</exception>
    public void Flush() => Io(_writer.Flush, "sending");

    /// <summary>Reads the next frame (after flushing what this side buffered).</summary>
    /// <exception cref="MigrationException">the stream ended or broke, or the frame is not one of the protocol's.</exception>
    public (MigrationFrameKind Kind, byte[] Body) Read()
    {
        Flush();
        return ReadUnflushed();
    }

    /// <summary>
    /// Reads the next frame without flushing this side's buffered frames: for a thread that only reads while another
    /// writes (both directions of a post-copy stream carry frames at once).
    /// </summary>
    /// <exception cref="MigrationException">the stream ended or broke, or the frame is not one of the protocol's.</exception>
    public (MigrationFrameKind Kind, byte[] Body) ReadUnflushed()
    {
        var head = new byte[FrameHeaderBytes];
        ReadExactly(head, "a frame header");
        var kind = (MigrationFrameKind)head[0];
        if (!Enum.IsDefined(kind)) throw new MigrationException($"the migration stream carries an unknown frame kind {head[0]}: not the migration protocol");
        uint length = BinaryPrimitives.ReadUInt32LittleEndian(head.AsSpan(1));
        if (length > MaxBodyBytes) throw new MigrationException($"a {kind} frame of {length} bytes is larger than the {MaxBodyBytes} the protocol allows");
        var body = new byte[length];
        ReadExactly(body, $"a {kind} frame's {length} bytes");
        Interlocked.Add(ref _read, FrameHeaderBytes + length);
        return (kind, body);
    }

    /// <summary>Reads the next frame and checks it is <paramref name="expected"/>; a <see cref="MigrationFrameKind.Refused"/> or <see cref="MigrationFrameKind.Abort"/> throws with the other side's reason.</summary>
    /// <exception cref="MigrationException">another frame came, or the stream ended.</exception>
    public byte[] Expect(MigrationFrameKind expected, string otherSide)
    {
        var (kind, body) = Read();
        if (kind == expected) return body;
        throw kind switch
        {
            MigrationFrameKind.Refused => new MigrationException($"the {otherSide} refused the migration: {System.Text.Encoding.UTF8.GetString(body)}"),
            MigrationFrameKind.Abort => new MigrationException($"the {otherSide} cancelled the migration: {System.Text.Encoding.UTF8.GetString(body)}"),
            _ => new MigrationException($"the {otherSide} sent a {kind} frame where a {expected} frame was expected"),
        };
    }

    private void ReadExactly(byte[] buffer, string what) => Io(() =>
    {
        int got = 0;
        while (got < buffer.Length)
        {
            int n = _stream.Read(buffer, got, buffer.Length - got);
            if (n == 0) throw new EndOfStreamException($"the stream ended after {got} of the {buffer.Length} bytes of {what}");
            got += n;
        }
    }, $"reading {what}");

    private static void Io(Action action, string doing)
    {
        try
        {
            action();
        }
        catch (Exception e) when (IsBreak(e))
        {
            throw Broke(e, doing);
        }
    }

    private static bool IsBreak(Exception e) => e is IOException or ObjectDisposedException or System.Net.Sockets.SocketException;

    private static MigrationException Broke(Exception e, string doing) => new($"the migration stream broke while {doing}: {e.Message}", e);

    /// <summary>Closes the stream (a blocked read on the other thread ends with a <see cref="MigrationException"/>).</summary>
    public void Dispose()
    {
        try
        {
            _writer.Dispose();
        }
        catch (Exception e) when (IsBreak(e))
        {
            // Unsent bytes of a stream that broke: the other side sees the break.
        }
        _stream.Dispose();
    }
}
