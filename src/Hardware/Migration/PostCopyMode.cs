namespace Actorvisor.Hardware.Migration;

/// <summary>Whether a live migration may finish by post-copy: the target runs at once and fetches the pages it lacks from the source.</summary>
public enum PostCopyMode
{
    /// <summary>Pre-copy only: the source pauses for the last dirty pages, however long that takes.</summary>
    Never,

    /// <summary>After the first full pass the source pauses, sends the state and the target runs; the rest follows by post-copy.</summary>
    Always,

    /// <summary>
    /// Pre-copy while it converges; post-copy when the round limit is reached without meeting the downtime budget, or
    /// when a round's dirty rate exceeds the stream's bandwidth (pre-copy could never catch up).
    /// </summary>
    Auto,
}
