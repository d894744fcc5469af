namespace Actorvisor.Host.Api.V1;

// Live migration of a running VM between the cluster's nodes (pre-copy over a dedicated TCP stream between the nodes).

/// <summary>
/// Moves Running VM <paramref name="Name"/> to node <paramref name="To"/> (null: placement picks a node of the same
/// accelerator kind with room for it) by live migration, pausing it at most about <paramref name="MaxDowntimeMs"/>
/// (default 100). <paramref name="Postcopy"/>: "never" (pre-copy, the default), "always" (post-copy after the first
/// pass) or "auto" (post-copy when pre-copy does not converge); <paramref name="BandwidthBytesPerSecond"/> limits the
/// stream (null: unlimited). Replies <see cref="MigrationReply"/> once the target has accepted and the pages flow
/// (status "running"); progress and the end come as <see cref="MigrationProgress"/> to the VM's event subscribers.
/// With <paramref name="Cancel"/> it cancels the VM's running migration instead (the other fields are ignored) and
/// replies once it ended: "cancelled" (the VM runs on its node) or, too late, "completed". Refused up front
/// (<see cref="ApiErrorCode.NoCapacity"/>, <see cref="ApiErrorCode.InvalidRequest"/> on "to") when the target lacks
/// room or runs another accelerator.
/// </summary>
public sealed record MigrateVmRequest(string Name, string? To = null, int? MaxDowntimeMs = null, string? Postcopy = null,
    ulong? BandwidthBytesPerSecond = null, bool Cancel = false) : ApiRequest;

/// <summary>Lists the running and recent live migrations (the VM directory keeps the last <c>50</c>). Replies <see cref="MigrationListReply"/>.</summary>
public sealed record ListMigrationsRequest : ApiRequest;

/// <summary>One live migration as the cluster knows it.</summary>
/// <param name="Id">Its id (unique in the cluster while the VM directory runs).</param>
/// <param name="Vm">The VM.</param>
/// <param name="Source">The node it leaves.</param>
/// <param name="Target">The node it goes to.</param>
/// <param name="Status">"running", "completed", "failed" or "cancelled".</param>
/// <param name="StartedAt">When it was asked for (UTC).</param>
/// <param name="EndedAt">When it ended (UTC); null while it runs.</param>
/// <param name="Round">The last pre-copy round that ended (0 is the full pass); -1 before the first.</param>
/// <param name="DirtyPagesLeft">4 KiB pages dirtied during that round, left to send.</param>
/// <param name="DirtyPagesPerSecond">The guest's dirty rate over that round.</param>
/// <param name="BandwidthBytesPerSecond">Bytes per second the stream took so far.</param>
/// <param name="ExpectedDowntimeMs">How long sending the pages left would pause the VM at that bandwidth.</param>
/// <param name="MemoryBytes">The VM's guest RAM.</param>
/// <param name="DowntimeMs">How long the VM was paused at switchover; null until it completed.</param>
/// <param name="WireBytes">Bytes the source sent; null until it completed.</param>
/// <param name="Reason">Why it failed or was cancelled; null otherwise.</param>
/// <param name="Switchover">
/// How it switched over, once completed: <see cref="PreCopy"/> (the VM resumed on the target with all its memory) or
/// <see cref="PostCopy"/> (it resumed there at once, its missing pages fetched from the source); null before, or from
/// a node older than the field.
/// </param>
public sealed record MigrationInfo(string Id, string Vm, string Source, string Target, string Status, DateTimeOffset StartedAt, DateTimeOffset? EndedAt,
    int Round, long DirtyPagesLeft, double DirtyPagesPerSecond, double BandwidthBytesPerSecond, double ExpectedDowntimeMs, ulong MemoryBytes,
    double? DowntimeMs = null, long? WireBytes = null, string? Reason = null, string? Switchover = null)
{
    /// <summary>The <see cref="Switchover"/> of a migration that sent every page before the VM resumed on the target.</summary>
    public const string PreCopy = "precopy";

    /// <summary>The <see cref="Switchover"/> of a migration whose VM resumed on the target before all its pages were there.</summary>
    public const string PostCopy = "postcopy";

    /// <summary>The status of a migration that has not ended.</summary>
    public const string Running = "running";

    /// <summary>The status of a migration that switched over: the VM runs on the target.</summary>
    public const string Completed = "completed";

    /// <summary>The status of a migration that failed before switchover: the VM runs on the source.</summary>
    public const string Failed = "failed";

    /// <summary>The status of a migration cancelled before switchover: the VM runs on the source.</summary>
    public const string Cancelled = "cancelled";

    /// <summary>True once it ended, one way or the other (from <see cref="Status"/>; not on the wire).</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public bool Ended => Status != Running;
}

/// <summary>The migration a <see cref="MigrateVmRequest"/> started (or, with Cancel, how it ended).</summary>
/// <param name="Migration">The migration.</param>
public sealed record MigrationReply(MigrationInfo Migration) : IApiReply;

/// <summary>The migrations a <see cref="ListMigrationsRequest"/> asked for, newest first.</summary>
/// <param name="Migrations">Running and recent migrations.</param>
public sealed record MigrationListReply(IReadOnlyList<MigrationInfo> Migrations) : IApiReply;

/// <summary>
/// A stream message to the subscribers of the migrating VM's events (and of every VM's): a pre-copy round ended, or
/// the migration ended (<see cref="MigrationInfo.Ended"/>).
/// </summary>
/// <param name="Migration">The migration as it stands.</param>
public sealed record MigrationProgress(MigrationInfo Migration) : IApiMessage;
