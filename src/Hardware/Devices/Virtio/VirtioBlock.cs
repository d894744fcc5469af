using System.Buffers.Binary;
using System.Runtime.ExceptionServices;
using Actorvisor.Hardware.Memory;
using Actorvisor.Hardware.Native;

namespace Actorvisor.Hardware.Devices.Virtio;

/// <summary>
/// A virtio-blk device (virtio 1.x section 5.2) over a raw image file: owns the open file (a
/// <see cref="ConfinedFile"/>, so the disk is the file the node's confinement checked), its capacity in 512-byte
/// sectors and the request counters. It serves IN, OUT, FLUSH (fsync of the file: VIRTIO_BLK_F_FLUSH) and GET_ID; a
/// read-only disk offers VIRTIO_BLK_F_RO and fails writes with IOERR. A request that reaches past the disk or whose
/// buffers are too small is answered IOERR; an unknown type UNSUPP. One queue. One <see cref="ServeQueue"/> call takes at
/// most its budget of requests (the bound on requests in flight), moves their data between the file and guest RAM with
/// preadv/pwritev straight over the data buffers' host addresses (translated and checked against the memslots first: no
/// copy in between), on up to <see cref="IoParallelism"/> threads, a FLUSH waiting for every transfer before it, and
/// completes them all before it returns.
/// </summary>
public sealed class VirtioBlock : IVirtioDevice, IDisposable
{
    /// <summary>virtio device id 2.</summary>
    public const uint BlockDeviceType = 2;
    /// <summary>The sector size of virtio-blk addressing.</summary>
    public const int SectorSize = 512;
    /// <summary>VIRTIO_BLK_F_SEG_MAX (2): the driver may put up to <see cref="MaxSegments"/> data buffers in a request.</summary>
    public const int FeatureSegMax = 2;
    /// <summary>
    /// seg_max: data buffers per request. Without it Linux sends one buffer per request, which for a user buffer read with
    /// O_DIRECT is one 4 KiB page; a whole ring less the header and status descriptors (a chain may not be longer than
    /// the queue, and indirect tables are not offered).
    /// </summary>
    public const uint MaxSegments = QueueSize - 2;
    /// <summary>VIRTIO_BLK_F_RO (5).</summary>
    public const int FeatureReadOnly = 5;
    /// <summary>VIRTIO_BLK_F_FLUSH (9).</summary>
    public const int FeatureFlush = 9;
    /// <summary>VIRTIO_BLK_T_IN.</summary>
    public const uint RequestIn = 0;
    /// <summary>VIRTIO_BLK_T_OUT.</summary>
    public const uint RequestOut = 1;
    /// <summary>VIRTIO_BLK_T_FLUSH.</summary>
    public const uint RequestFlush = 4;
    /// <summary>VIRTIO_BLK_T_GET_ID.</summary>
    public const uint RequestGetId = 8;
    /// <summary>VIRTIO_BLK_S_OK.</summary>
    public const byte StatusOk = 0;
    /// <summary>VIRTIO_BLK_S_IOERR.</summary>
    public const byte StatusIoError = 1;
    /// <summary>VIRTIO_BLK_S_UNSUPP.</summary>
    public const byte StatusUnsupported = 2;
    /// <summary>Bytes of the request header (type, reserved, sector).</summary>
    public const int HeaderSize = 16;
    /// <summary>Bytes of the GET_ID answer.</summary>
    public const int IdSize = 20;
    /// <summary>
    /// The queue size offered. 1,024 rather than the usual 256, so that <see cref="MaxSegments"/> passes the 256 pages of
    /// a 1 MiB O_DIRECT buffer: with 254 Linux cuts each 1 MiB read into two requests, and every request costs an
    /// interrupt, which on virtio-mmio costs the vCPU two exits (InterruptStatus, InterruptAck). The rings take 26 KiB of
    /// guest RAM.
    /// </summary>
    public const ushort QueueSize = 1024;
    /// <summary>Largest data transfer of one request (the driver's default max_sectors is far below it).</summary>
    public const long MaxTransferBytes = 16L << 20;

    /// <summary>Most threads one round moves data on (the serving thread and pool threads).</summary>
    public const int MaxIoParallelism = 4;
    /// <summary>A request's data is cut into pieces for several threads only where each gets at least this much.</summary>
    public const long MinPieceBytes = 256 << 10;
    private const long PieceAlignment = 4096;

    private readonly ConfinedFile _file;
    private readonly byte[] _id;
    private long _reads, _writes, _flushes, _errors, _bytesRead, _bytesWritten;

    /// <summary>
    /// A disk over <paramref name="file"/> (it takes ownership), read-only if <paramref name="readOnly"/> or the file
    /// was opened read-only. Its capacity is the file's length rounded down to whole sectors. A round moves data on up to
    /// <paramref name="ioParallelism"/> threads (0: as many as the host has CPUs, at most <see cref="MaxIoParallelism"/>).
    /// </summary>
    public VirtioBlock(ConfinedFile file, bool readOnly, string name = "virtio-blk", int ioParallelism = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(ioParallelism);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(ioParallelism, MaxIoParallelism);
        IoParallelism = ioParallelism == 0 ? Math.Clamp(Environment.ProcessorCount, 1, MaxIoParallelism) : ioParallelism;
        _file = file ?? throw new ArgumentNullException(nameof(file));
        ArgumentException.ThrowIfNullOrEmpty(name);
        Name = name;
        ReadOnly = readOnly || !file.Writable;
        CapacitySectors = file.Length / SectorSize;
        _id = new byte[IdSize];
        System.Text.Encoding.ASCII.GetBytes(name.Length > IdSize ? name[..IdSize] : name, _id);
    }

    /// <inheritdoc />
    public string Name { get; }

    /// <summary>True if the guest may not write.</summary>
    public bool ReadOnly { get; }

    /// <summary>Threads a round moves data on at most: the host's CPUs up to <see cref="MaxIoParallelism"/> unless given.</summary>
    public int IoParallelism { get; }

    /// <summary>The disk's size in 512-byte sectors.</summary>
    public long CapacitySectors { get; }

    /// <summary>The image file's path, for messages.</summary>
    public string Path => _file.Path;

    /// <summary>The image file's size and modification time now (what a snapshot records of the disk).</summary>
    public FileIdentity ImageIdentity => _file.Identity;

    /// <summary>Makes every write the guest made so far durable (fsync of the image).</summary>
    public void FlushImage() => _file.FlushToDisk();

    /// <summary>IN requests served.</summary>
    public long Reads => Interlocked.Read(ref _reads);
    /// <summary>OUT requests served.</summary>
    public long Writes => Interlocked.Read(ref _writes);
    /// <summary>FLUSH requests served (each an fsync).</summary>
    public long Flushes => Interlocked.Read(ref _flushes);
    /// <summary>Requests answered IOERR or UNSUPP.</summary>
    public long Errors => Interlocked.Read(ref _errors);
    /// <summary>Bytes read from the image for the guest.</summary>
    public long BytesRead => Interlocked.Read(ref _bytesRead);
    /// <summary>Bytes written to the image by the guest.</summary>
    public long BytesWritten => Interlocked.Read(ref _bytesWritten);

    /// <inheritdoc />
    public uint DeviceType => BlockDeviceType;

    /// <inheritdoc />
    public ulong DeviceFeatures => VirtioFeature.Bit(FeatureFlush) | VirtioFeature.Bit(FeatureSegMax) | (ReadOnly ? VirtioFeature.Bit(FeatureReadOnly) : 0);

    /// <inheritdoc />
    public int QueueCount => 1;

    /// <inheritdoc />
    public ushort MaxQueueSize => QueueSize;

    /// <inheritdoc />
    public void ReadConfig(uint offset, Span<byte> data)
    {
        // struct virtio_blk_config: capacity (le64) first, seg_max (le32) at 12; the rest (size_max, geometry,
        // blk_size, ...) belongs to features not offered and reads as zero.
        Span<byte> config = stackalloc byte[64];
        config.Clear();
        BinaryPrimitives.WriteUInt64LittleEndian(config, (ulong)CapacitySectors);
        BinaryPrimitives.WriteUInt32LittleEndian(config[12..], MaxSegments);
        for (int i = 0; i < data.Length; i++)
        {
            ulong at = offset + (ulong)i;
            data[i] = at < (ulong)config.Length ? config[(int)at] : (byte)0;
        }
    }

    /// <inheritdoc />
    public void WriteConfig(uint offset, ReadOnlySpan<byte> data)
    {
        // Read-only: no writable field (writeback toggling needs VIRTIO_BLK_F_CONFIG_WCE, not offered).
    }

    /// <inheritdoc />
    public void Reset()
    {
    }

    /// <inheritdoc />
    public bool ServeQueue(int queue, SplitVirtqueue virtqueue, ulong negotiatedFeatures, int budget)
    {
        ArgumentNullException.ThrowIfNull(virtqueue);
        var round = new List<Request>(Math.Min(budget, QueueSize));
        bool more = true;
        try
        {
            while (round.Count < budget)
            {
                if (!virtqueue.TryTake(out var chain)) { more = false; break; }
                round.Add(Prepare(chain!));
            }
        }
        catch (Exception e) when (e is VirtqueueFaultException or GuestMemoryFaultException)
        {
            // The requests taken before the bad one are served, as when each was served before the next was taken.
            Finish(virtqueue, round);
            throw;
        }
        Finish(virtqueue, round);
        return more;
    }

    private void Finish(SplitVirtqueue virtqueue, List<Request> round)
    {
        Execute(round);
        foreach (var r in round)
        {
            if (r.Status != StatusOk) Interlocked.Increment(ref _errors);
            r.Chain.WriteTo(r.StatusAt, new ReadOnlySpan<byte>(in r.Status));
            virtqueue.Complete(r.Chain.Head, r.Written + 1);
        }
    }

    // Reads the header and answers what needs no file I/O; an IN or OUT within the disk gets the host memory of its data
    // buffers (translated and checked now, before any byte moves).
    private Request Prepare(DescriptorChain chain)
    {
        // A request too short to hold a header and a status byte breaks the driver contract.
        if (chain.ReadableLength < HeaderSize || chain.WritableLength < 1)
            throw new VirtqueueFaultException($"block request {chain.Head} has {chain.ReadableLength} readable and {chain.WritableLength} writable bytes; a header of {HeaderSize} and a status byte are required");
        Span<byte> header = stackalloc byte[HeaderSize];
        chain.ReadFrom(0, header);
        uint type = BinaryPrimitives.ReadUInt32LittleEndian(header);
        ulong sector = BinaryPrimitives.ReadUInt64LittleEndian(header[8..]);
        var r = new Request(chain, type, statusAt: chain.WritableLength - 1);
        long dataIn = r.StatusAt; // writable bytes before the status byte
        long dataOut = chain.ReadableLength - HeaderSize;
        switch (type)
        {
            case RequestIn when InRange(sector, dataIn, out long offset):
                r.SetTransfer(offset, dataIn, chain.MapWritable(0, dataIn));
                break;
            case RequestOut when !ReadOnly && InRange(sector, dataOut, out long offset):
                r.SetTransfer(offset, dataOut, chain.MapReadable(HeaderSize, dataOut));
                break;
            case RequestIn or RequestOut:
                r.Status = StatusIoError;
                break;
            case RequestFlush:
                break; // in order, after every transfer before it (Execute)
            case RequestGetId:
                int n = (int)Math.Min(dataIn, IdSize);
                chain.WriteTo(0, _id.AsSpan(0, n));
                r.Written = (uint)n;
                break;
            default:
                r.Status = StatusUnsupported;
                break;
        }
        return r;
    }

    // The round's transfers, a FLUSH being a barrier: the transfers before it end, then the fsync, then the rest.
    private void Execute(List<Request> round)
    {
        int from = 0;
        for (int i = 0; i < round.Count; i++)
        {
            if (round[i].Type != RequestFlush) continue;
            Transfer(round, from, i);
            Flush(round[i]);
            from = i + 1;
        }
        Transfer(round, from, round.Count);
    }

    private void Flush(Request flush)
    {
        if (ReadOnly) return;
        try
        {
            _file.FlushToDisk();
            Interlocked.Increment(ref _flushes);
        }
        catch (SyscallException)
        {
            flush.Status = StatusIoError; // the host file failed: the guest sees an I/O error, as from a real disk
        }
    }

    // Moves the data of requests [from, to): each request cut into pieces of at least MinPieceBytes, run on up to
    // IoParallelism threads (this one among them), all done before this returns.
    private void Transfer(List<Request> round, int from, int to)
    {
        var pieces = new List<Piece>();
        for (int i = from; i < to; i++)
            if (round[i].Data is { Length: > 0 }) Cut(round[i], pieces);
        if (pieces.Count == 1 || IoParallelism == 1)
        {
            foreach (var piece in pieces) Move(piece);
        }
        else if (pieces.Count > 1)
        {
            try { Parallel.For(0, pieces.Count, new ParallelOptions { MaxDegreeOfParallelism = IoParallelism }, i => Move(pieces[i])); }
            catch (AggregateException e) when (e.InnerExceptions.Count > 0) { ExceptionDispatchInfo.Throw(e.InnerExceptions[0]); }
        }
        for (int i = from; i < to; i++)
        {
            var r = round[i];
            if (r.Data is null) continue;
            if (Volatile.Read(ref r.Failed) != 0) { r.Status = StatusIoError; continue; }
            if (r.Type == RequestIn)
            {
                r.Written = (uint)r.Bytes;
                Interlocked.Increment(ref _reads);
                Interlocked.Add(ref _bytesRead, r.Bytes);
            }
            else
            {
                Interlocked.Increment(ref _writes);
                Interlocked.Add(ref _bytesWritten, r.Bytes);
            }
        }
    }

    private void Cut(Request r, List<Piece> pieces)
    {
        int count = (int)Math.Clamp(r.Bytes / MinPieceBytes, 1, IoParallelism);
        if (count == 1)
        {
            pieces.Add(new Piece(r, r.Offset, r.Data!, r.Bytes));
            return;
        }
        // Whole pages a piece, so no page of guest RAM is filled by two threads.
        long size = (r.Bytes + count - 1) / count;
        size = (size + PieceAlignment - 1) / PieceAlignment * PieceAlignment;
        var buffers = new List<HostBuffer>();
        long start = 0, length = 0;
        foreach (var whole in r.Data!)
        {
            for (var b = whole; b.Length > 0;)
            {
                long take = Math.Min(b.Length, size - length);
                buffers.Add(b.Slice(0, take));
                length += take;
                b = b.Slice(take, long.MaxValue);
                if (length < size) continue;
                pieces.Add(new Piece(r, r.Offset + start, [.. buffers], length));
                start += length;
                buffers.Clear();
                length = 0;
            }
        }
        if (length > 0) pieces.Add(new Piece(r, r.Offset + start, [.. buffers], length));
    }

    private void Move(Piece piece)
    {
        try
        {
            if (piece.Request.Type == RequestIn)
            {
                long got = _file.ReadAt(piece.Buffers, piece.FileOffset);
                if (got < piece.Length) ZeroFrom(piece.Buffers, got); // the file shrank: zeros past its end
            }
            else
            {
                _file.WriteAt(piece.Buffers, piece.FileOffset);
            }
        }
        catch (SyscallException)
        {
            Volatile.Write(ref piece.Request.Failed, 1); // the host file failed: the guest sees an I/O error, as from a real disk
        }
    }

    private static void ZeroFrom(HostBuffer[] buffers, long skip)
    {
        foreach (var b in buffers)
        {
            if (skip >= b.Length) { skip -= b.Length; continue; }
            var rest = b.Slice(skip, long.MaxValue);
            GuestMemoryAccess.Clear(rest.Address, (nuint)rest.Length);
            skip = 0;
        }
    }

    private bool InRange(ulong sector, long bytes, out long offset)
    {
        offset = 0;
        if (bytes % SectorSize != 0 || bytes > MaxTransferBytes) return false;
        long sectors = bytes / SectorSize;
        if (sector > (ulong)CapacitySectors || (ulong)sectors > (ulong)CapacitySectors - sector) return false;
        offset = (long)sector * SectorSize;
        return true;
    }

    /// <summary>One request of a round: its chain, what it asks, and what it will answer.</summary>
    private sealed class Request(DescriptorChain chain, uint type, long statusAt)
    {
        public DescriptorChain Chain { get; } = chain;
        public uint Type { get; } = type;
        public long StatusAt { get; } = statusAt;
        public byte Status = StatusOk;
        public uint Written;
        public int Failed; // set by a piece whose host I/O failed
        public long Offset { get; private set; }
        public long Bytes { get; private set; }
        public HostBuffer[]? Data { get; private set; }

        public void SetTransfer(long offset, long bytes, HostBuffer[] data)
        {
            Offset = offset;
            Bytes = bytes;
            Data = data;
        }
    }

    /// <summary>A contiguous part of a request's data: its place in the image and the guest memory it fills or sends.</summary>
    private sealed record Piece(Request Request, long FileOffset, HostBuffer[] Buffers, long Length);

    /// <summary>Closes the image file.</summary>
    public void Dispose() => _file.Dispose();
}
