using System.Buffers;
using System.Buffers.Binary;
using Actorvisor.Hardware.Native;

namespace Actorvisor.Hardware.Devices.Virtio;

/// <summary>
/// A virtio-blk device (virtio 1.x section 5.2) over a raw image file: owns the open file (a
/// <see cref="ConfinedFile"/>, so the disk is the file the node's confinement checked), its capacity in 512-byte
/// sectors and the request counters. It serves IN, OUT, FLUSH (fsync of the file: VIRTIO_BLK_F_FLUSH) and GET_ID; a
/// read-only disk offers VIRTIO_BLK_F_RO and fails writes with IOERR. A request that reaches past the disk or whose
/// buffers are too small is answered IOERR; an unknown type UNSUPP. One queue; one <see cref="ServeQueue"/> call
/// completes at most its budget of requests, each synchronously, so the requests in flight never exceed it.
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
    /// O_DIRECT is one 4 KiB page; a whole ring less the header and status descriptors.
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
    /// <summary>The queue size offered.</summary>
    public const ushort QueueSize = 256;
    /// <summary>Largest data transfer of one request (the driver's default max_sectors is far below it).</summary>
    public const long MaxTransferBytes = 16L << 20;

    private const int CopyChunk = 128 << 10;

    private readonly ConfinedFile _file;
    private readonly byte[] _id;
    private long _reads, _writes, _flushes, _errors, _bytesRead, _bytesWritten;

    /// <summary>
    /// A disk over <paramref name="file"/> (it takes ownership), read-only if <paramref name="readOnly"/> or the file
    /// was opened read-only. Its capacity is the file's length rounded down to whole sectors.
    /// </summary>
    public VirtioBlock(ConfinedFile file, bool readOnly, string name = "virtio-blk")
    {
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
        for (int served = 0; served < budget; served++)
        {
            if (!virtqueue.TryTake(out var chain)) return false;
            uint written = Serve(chain!);
            virtqueue.Complete(chain!.Head, written);
        }
        return true;
    }

    // One request; returns the bytes written into the chain's writable buffers (data and status).
    private uint Serve(DescriptorChain chain)
    {
        // A request too short to hold a header and a status byte breaks the driver contract.
        if (chain.ReadableLength < HeaderSize || chain.WritableLength < 1)
            throw new VirtqueueFaultException($"block request {chain.Head} has {chain.ReadableLength} readable and {chain.WritableLength} writable bytes; a header of {HeaderSize} and a status byte are required");
        Span<byte> header = stackalloc byte[HeaderSize];
        chain.ReadFrom(0, header);
        uint type = BinaryPrimitives.ReadUInt32LittleEndian(header);
        ulong sector = BinaryPrimitives.ReadUInt64LittleEndian(header[8..]);
        long statusAt = chain.WritableLength - 1;
        long dataIn = statusAt; // writable bytes before the status byte
        long dataOut = chain.ReadableLength - HeaderSize;
        byte status;
        uint written = 0;
        try
        {
            switch (type)
            {
                case RequestIn:
                    status = Read(chain, sector, dataIn);
                    if (status == StatusOk) written = (uint)dataIn;
                    break;
                case RequestOut:
                    status = Write(chain, sector, dataOut);
                    break;
                case RequestFlush:
                    if (ReadOnly) { status = StatusOk; break; }
                    _file.FlushToDisk();
                    Interlocked.Increment(ref _flushes);
                    status = StatusOk;
                    break;
                case RequestGetId:
                    int n = (int)Math.Min(dataIn, IdSize);
                    chain.WriteTo(0, _id.AsSpan(0, n));
                    written = (uint)n;
                    status = StatusOk;
                    break;
                default:
                    status = StatusUnsupported;
                    break;
            }
        }
        catch (SyscallException)
        {
            status = StatusIoError; // the host file failed: the guest sees an I/O error, as from a real disk
        }
        if (status != StatusOk) Interlocked.Increment(ref _errors);
        chain.WriteTo(statusAt, new ReadOnlySpan<byte>(in status));
        return written + 1;
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

    private byte Read(DescriptorChain chain, ulong sector, long bytes)
    {
        if (!InRange(sector, bytes, out long offset)) return StatusIoError;
        var buffer = ArrayPool<byte>.Shared.Rent((int)Math.Min(bytes, CopyChunk));
        try
        {
            for (long done = 0; done < bytes;)
            {
                int n = (int)Math.Min(bytes - done, buffer.Length);
                int got = _file.ReadAt(buffer.AsSpan(0, n), offset + done);
                buffer.AsSpan(got, n - got).Clear(); // the file may have shrunk: zeros past its end
                chain.WriteTo(done, buffer.AsSpan(0, n));
                done += n;
            }
        }
        finally { ArrayPool<byte>.Shared.Return(buffer); }
        Interlocked.Increment(ref _reads);
        Interlocked.Add(ref _bytesRead, bytes);
        return StatusOk;
    }

    private byte Write(DescriptorChain chain, ulong sector, long bytes)
    {
        if (ReadOnly || !InRange(sector, bytes, out long offset)) return StatusIoError;
        var buffer = ArrayPool<byte>.Shared.Rent((int)Math.Min(Math.Max(bytes, 1), CopyChunk));
        try
        {
            for (long done = 0; done < bytes;)
            {
                int n = (int)Math.Min(bytes - done, buffer.Length);
                chain.ReadFrom(HeaderSize + done, buffer.AsSpan(0, n));
                _file.WriteAt(buffer.AsSpan(0, n), offset + done);
                done += n;
            }
        }
        finally { ArrayPool<byte>.Shared.Return(buffer); }
        Interlocked.Increment(ref _writes);
        Interlocked.Add(ref _bytesWritten, bytes);
        return StatusOk;
    }

    /// <summary>Closes the image file.</summary>
    public void Dispose() => _file.Dispose();
}
