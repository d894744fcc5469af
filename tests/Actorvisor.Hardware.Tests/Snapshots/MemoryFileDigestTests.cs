using System.Security.Cryptography;
using Actorvisor.Hardware.Snapshots;

namespace Actorvisor.Hardware.Tests.Snapshots;

/// <summary>The chunked memory-file checksum: defined by the bytes alone, zero chunks without hashing, any change caught.</summary>
public sealed class MemoryFileDigestTests
{
    private const int Chunk = MemoryFileDigest.ChunkBytes;

    // The scheme spelled out independently: SHA-256 over the SHA-256 of each 1 MiB chunk, the last one shorter.
    private static string Reference(byte[] bytes)
    {
        var digests = new List<byte>();
        for (int o = 0; o < bytes.Length; o += Chunk) digests.AddRange(SHA256.HashData(bytes.AsSpan(o, Math.Min(Chunk, bytes.Length - o))));
        return Convert.ToHexStringLower(SHA256.HashData(digests.ToArray()));
    }

    [Fact]
    public void Zero_chunks_set_without_bytes_give_the_digest_of_the_bytes_and_a_shorter_last_chunk_counts()
    {
        var bytes = new byte[3 * Chunk + 8192];
        bytes[Chunk + 17] = 0x5a;
        bytes[^1] = 1;
        var digest = new MemoryFileDigest((ulong)bytes.Length);
        Assert.Equal(4, digest.ChunkCount);
        Assert.Equal(8192, digest.ChunkLength(3));
        // In any order, the zero chunks without their bytes.
        digest.SetChunk(3, bytes.AsSpan(3 * Chunk));
        digest.SetZeroChunk(2);
        digest.SetChunk(1, bytes.AsSpan(Chunk, Chunk));
        digest.SetZeroChunk(0);
        Assert.Equal(Reference(bytes), digest.Finish());
        Assert.Equal(Reference(bytes), MemoryFileDigest.Of(bytes));
    }

    [Fact]
    public void One_changed_byte_in_a_zero_chunk_changes_the_digest()
    {
        var bytes = new byte[2 * Chunk];
        var before = MemoryFileDigest.Of(bytes);
        bytes[Chunk + 4095] = 1;
        Assert.NotEqual(before, MemoryFileDigest.Of(bytes));
        Assert.Equal(Reference(bytes), MemoryFileDigest.Of(bytes));
    }
}
