using System.Collections.Concurrent;
using System.Security.Cryptography;

namespace Actorvisor.Hardware.Snapshots;

/// <summary>
/// The checksum of a snapshot's memory file (scheme <see cref="Scheme"/>): the SHA-256 of the concatenated SHA-256s of
/// its 1 MiB chunks (<see cref="ChunkBytes"/>; the last one may be shorter). It is a function of the file's bytes alone,
/// like a whole-file SHA-256, but an all-zero chunk's digest is a constant, so the holes of a sparse file and the
/// untouched pages of guest RAM are checksummed without hashing them (or, with SEEK_HOLE, reading them), and the
/// chunks can be hashed on several threads. Chunk digests are set by index in any order; <see cref="Finish"/> combines
/// them.
/// </summary>
public sealed class MemoryFileDigest
{
    /// <summary>The scheme's name in <see cref="SnapshotFileEntry.Digest"/>.</summary>
    public const string Scheme = "sha256-of-1mib-chunk-sha256s";

    /// <summary>Bytes in a chunk.</summary>
    public const int ChunkBytes = 1 << 20;

    private const int DigestBytes = 32;
    private static readonly ConcurrentDictionary<int, byte[]> ZeroDigests = new();

    private readonly byte[] _digests;
    private readonly ulong _size;

    /// <summary>A digest of a file of <paramref name="size"/> bytes, no chunk set yet.</summary>
    public MemoryFileDigest(ulong size)
    {
        _size = size;
        ChunkCount = checked((int)((size + ChunkBytes - 1) / ChunkBytes));
        _digests = new byte[ChunkCount * DigestBytes];
    }

    /// <summary>Chunks in the file.</summary>
    public int ChunkCount { get; }

    /// <summary>Bytes in chunk <paramref name="index"/> (<see cref="ChunkBytes"/>, or fewer for the last).</summary>
    public int ChunkLength(int index) => (int)Math.Min(ChunkBytes, _size - (ulong)index * ChunkBytes);

    /// <summary>Sets chunk <paramref name="index"/> from its bytes (all of them); safe from several threads for distinct chunks.</summary>
    public void SetChunk(int index, ReadOnlySpan<byte> chunk)
    {
        if (chunk.Length != ChunkLength(index)) throw new ArgumentException($"chunk {index} has {ChunkLength(index)} bytes, not {chunk.Length}", nameof(chunk));
        var into = _digests.AsSpan(index * DigestBytes, DigestBytes);
        if (chunk.ContainsAnyExcept((byte)0)) SHA256.HashData(chunk, into);
        else ZeroDigest(chunk.Length).CopyTo(into);
    }

    /// <summary>Sets chunk <paramref name="index"/> as all zeros (a hole) without any bytes.</summary>
    public void SetZeroChunk(int index) => ZeroDigest(ChunkLength(index)).CopyTo(_digests.AsSpan(index * DigestBytes, DigestBytes));

    /// <summary>The file's checksum, lowercase hex.</summary>
    public string Finish() => Convert.ToHexStringLower(SHA256.HashData(_digests));

    /// <summary>The checksum of <paramref name="bytes"/> as a whole file (tests, small files).</summary>
    public static string Of(ReadOnlySpan<byte> bytes)
    {
        var digest = new MemoryFileDigest((ulong)bytes.Length);
        for (int i = 0; i < digest.ChunkCount; i++) digest.SetChunk(i, bytes.Slice(i * ChunkBytes, digest.ChunkLength(i)));
        return digest.Finish();
    }

    private static byte[] ZeroDigest(int length) => ZeroDigests.GetOrAdd(length, n => SHA256.HashData(new byte[n]));
}
