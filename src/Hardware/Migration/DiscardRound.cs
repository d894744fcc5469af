namespace Actorvisor.Hardware.Migration;

/// <summary>
/// One discard round of a migration that ends by post-copy, while the VM still ran on the source: the pages of memslot 0
/// that had gone stale on the target since the last one, and how long the target took to drop them (from the first
/// <see cref="MigrationFrameKind.Discard"/> frame to its <see cref="MigrationFrameKind.RoundApplied"/>).
/// </summary>
/// <param name="Pages">Pages the target dropped.</param>
/// <param name="Duration">Sending the list until the target acknowledged it.</param>
public sealed record DiscardRound(long Pages, TimeSpan Duration);
