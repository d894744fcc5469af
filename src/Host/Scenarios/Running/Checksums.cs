using System.Buffers.Binary;
using System.Security.Cryptography;
using Actorvisor.Host.Scenarios.Language;

namespace Actorvisor.Host.Scenarios.Running;

/// <summary>The checksums expect-memory compares, as lower-case hex.</summary>
public static class Checksums
{
    /// <summary>The checksum of <paramref name="bytes"/> with <paramref name="algorithm"/>.</summary>
    public static string Compute(ChecksumAlgorithm algorithm, ReadOnlySpan<byte> bytes) => algorithm switch
    {
        ChecksumAlgorithm.Sum32 => Sum32(bytes).ToString("x8"),
        _ => Convert.ToHexStringLower(SHA256.HashData(bytes)),
    };

    /// <summary>The sum of the little-endian dwords mod 2^32 (the length must be a multiple of 4).</summary>
    public static uint Sum32(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length % 4 != 0) throw new ArgumentException($"sum32 needs a multiple of 4 bytes, got {bytes.Length}", nameof(bytes));
        uint sum = 0;
        for (int i = 0; i < bytes.Length; i += 4) sum = unchecked(sum + BinaryPrimitives.ReadUInt32LittleEndian(bytes[i..]));
        return sum;
    }
}
