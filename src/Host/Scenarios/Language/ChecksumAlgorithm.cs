namespace Actorvisor.Host.Scenarios.Language;

/// <summary>How <c>expect-memory</c> summarizes a range of guest RAM.</summary>
public enum ChecksumAlgorithm
{
    /// <summary>The sum of the little-endian dwords mod 2^32, as 8 hex digits (what memory-writer prints).</summary>
    Sum32,
    /// <summary>SHA-256 of the bytes, as 64 hex digits.</summary>
    Sha256,
}
