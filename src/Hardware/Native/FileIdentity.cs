namespace Actorvisor.Hardware.Native;

/// <summary>
/// A cheap identity of a file's content: its size and the time it was last modified (statx of the open descriptor, in
/// nanoseconds since the Unix epoch). Any write through any descriptor moves the time, so a file whose identity is
/// unchanged was not written in between (short of someone setting the time back on purpose).
/// </summary>
/// <param name="Bytes">The file's length.</param>
/// <param name="ModifiedUnixNanoseconds">stx_mtime.</param>
public readonly record struct FileIdentity(long Bytes, long ModifiedUnixNanoseconds)
{
    /// <summary>The modification time as a date (to the 100 ns a <see cref="DateTimeOffset"/> holds), for messages.</summary>
    public DateTimeOffset Modified => DateTimeOffset.UnixEpoch.AddTicks(ModifiedUnixNanoseconds / 100);

    /// <inheritdoc />
    public override string ToString() => $"{Bytes} bytes, modified {Modified:yyyy-MM-dd HH:mm:ss.fffffff} UTC";
}
