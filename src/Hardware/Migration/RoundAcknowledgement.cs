using System.Buffers.Binary;

namespace Actorvisor.Hardware.Migration;

/// <summary>
/// The body of a <see cref="MigrationFrameKind.RoundApplied"/> frame: the round the target finished applying and how
/// many bytes of the stream it had read through that round's <see cref="MigrationFrameKind.RoundEnd"/> frame (frame
/// headers included). The source checks the count against what it wrote up to that frame: equal means every byte it
/// sent so far is applied on the target, none still sits in socket buffers.
/// </summary>
/// <param name="Round">The round number of the <see cref="MigrationFrameKind.RoundEnd"/> frame.</param>
/// <param name="BytesRead">Bytes the target read from the stream up to and including that frame.</param>
public readonly record struct RoundAcknowledgement(uint Round, long BytesRead)
{
    /// <summary>The body's size: u32 round, u64 bytes.</summary>
    public const int BodyBytes = 12;

    /// <summary>The frame body.</summary>
    public byte[] Encode()
    {
        var body = new byte[BodyBytes];
        BinaryPrimitives.WriteUInt32LittleEndian(body, Round);
        BinaryPrimitives.WriteInt64LittleEndian(body.AsSpan(4), BytesRead);
        return body;
    }

    /// <summary>Reads a body <see cref="Encode"/> wrote.</summary>
    /// <exception cref="MigrationException">the body is not 12 bytes or its count is negative.</exception>
    public static RoundAcknowledgement Decode(ReadOnlySpan<byte> body)
    {
        if (body.Length != BodyBytes) throw new MigrationException($"a round acknowledgement of {body.Length} bytes (expected {BodyBytes})");
        long bytes = BinaryPrimitives.ReadInt64LittleEndian(body[4..]);
        if (bytes < 0) throw new MigrationException($"a round acknowledgement of {bytes} bytes read");
        return new RoundAcknowledgement(BinaryPrimitives.ReadUInt32LittleEndian(body), bytes);
    }

    /// <summary>Answers the <see cref="MigrationFrameKind.RoundEnd"/> frame whose body is <paramref name="roundEndBody"/>, just read from <paramref name="channel"/>, and flushes the answer.</summary>
    /// <exception cref="MigrationException">the round number is malformed or the stream broke.</exception>
    public static void Answer(MigrationChannel channel, ReadOnlySpan<byte> roundEndBody)
    {
        ArgumentNullException.ThrowIfNull(channel);
        if (roundEndBody.Length != 4) throw new MigrationException($"a round end of {roundEndBody.Length} bytes");
        var ack = new RoundAcknowledgement(BinaryPrimitives.ReadUInt32LittleEndian(roundEndBody), channel.BytesRead);
        channel.Write(MigrationFrameKind.RoundApplied, ack.Encode());
        channel.Flush();
    }
}
