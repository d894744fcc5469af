using System.Buffers.Binary;
using Actorvisor.Hardware.Native;

namespace Actorvisor.Hardware.Migration;

/// <summary>
/// Sends guest pages of one memslot as <see cref="MigrationFrameKind.Pages"/> frames, up to <see cref="BatchPages"/> a
/// frame: the body is u32 slot, u32 count, then per page a u64 (page index &lt;&lt; 1 | zero flag) followed by the
/// page's 4096 bytes unless the zero flag is set (zero-page elision: an all-zero page costs 8 bytes).
/// </summary>
public sealed class PageBatchWriter
{
    /// <summary>Pages per frame (about 1 MiB of data).</summary>
    public const int BatchPages = 256;

    /// <summary>Bytes a page costs on the wire at most: its entry word and its data.</summary>
    public const int MaxPageWireBytes = 8 + (int)PageSize.Bytes;

    /// <summary>Bytes before a batch's first entry: u32 slot, u32 count.</summary>
    internal const int BodyHeaderBytes = 8;
    private readonly MigrationChannel _channel;
    private readonly TokenBucket? _limit;
    private readonly CancellationToken _cancel;
    private readonly byte[] _body = new byte[BodyHeaderBytes + BatchPages * MaxPageWireBytes];
    private uint _slot;
    private int _count, _length = BodyHeaderBytes;

    /// <summary>
    /// A writer sending on <paramref name="channel"/>; with <paramref name="limit"/>, each frame waits (cancellably by
    /// <paramref name="cancel"/>) for the bucket to be out of debt after taking its bytes.
    /// </summary>
    public PageBatchWriter(MigrationChannel channel, TokenBucket? limit = null, CancellationToken cancel = default)
    {
        _channel = channel ?? throw new ArgumentNullException(nameof(channel));
        _limit = limit;
        _cancel = cancel;
    }

    /// <summary>Pages added and not sent yet.</summary>
    public int Buffered => _count;

    /// <summary>Pages sent with their data.</summary>
    public long DataPages { get; private set; }

    /// <summary>Pages sent as zero pages (no data).</summary>
    public long ZeroPages { get; private set; }

    /// <summary>
    /// Adds page <paramref name="page"/> of memslot <paramref name="slot"/> with content <paramref name="content"/>
    /// (4096 bytes, copied now). An all-zero page goes without its data, or not at all if <paramref name="skipZero"/>
    /// (the target's memory is zero until written: the first pass need not send zero pages).
    /// </summary>
    public void Add(uint slot, ulong page, ReadOnlySpan<byte> content, bool skipZero = false)
    {
        if (content.Length != (int)PageSize.Bytes) throw new ArgumentException($"a page is {PageSize.Bytes} bytes, got {content.Length}", nameof(content));
        bool zero = !content.ContainsAnyExcept((byte)0);
        if (zero && skipZero) return;
        if (_count > 0 && slot != _slot) Send();
        _slot = slot;
        BinaryPrimitives.WriteUInt64LittleEndian(_body.AsSpan(_length), (page << 1) | (zero ? 1UL : 0));
        _length += 8;
        if (!zero)
        {
            content.CopyTo(_body.AsSpan(_length));
            _length += content.Length;
            DataPages++;
        }
        else ZeroPages++;
        if (++_count == BatchPages) Send();
    }

    /// <summary>Sends the pages added since the last frame, if any (buffered in the channel).</summary>
    public void Send()
    {
        if (_count == 0) return;
        BinaryPrimitives.WriteUInt32LittleEndian(_body, _slot);
        BinaryPrimitives.WriteUInt32LittleEndian(_body.AsSpan(4), (uint)_count);
        _channel.Write(MigrationFrameKind.Pages, _body.AsSpan(0, _length));
        int sent = _length;
        _count = 0;
        _length = BodyHeaderBytes;
        if (_limit?.Take(sent) is { } wait && wait > TimeSpan.Zero)
        {
            _cancel.WaitHandle.WaitOne(wait);
            _cancel.ThrowIfCancellationRequested();
        }
    }
}
