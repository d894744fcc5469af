using System.Buffers.Binary;
using System.Diagnostics;
using Actorvisor.Hardware.Memory;
using Actorvisor.Hardware.Mmu;
using Actorvisor.Hardware.Native;
using Actorvisor.Hardware.Snapshots;

namespace Actorvisor.Hardware.Migration;

/// <summary>
/// The source side of a live migration over a <see cref="MigrationChannel"/>. It sends the header and waits for the
/// target to accept; turns on dirty logging on every memslot; round 0 sends every page holding data (every page, when
/// the migration may end by post-copy) while the guest runs; each later round harvests the dirty log
/// (<see cref="IDirtyLog"/>: the software MMU's SPTEs or KVM_GET_DIRTY_LOG) and resends those pages, measuring the
/// stream's bandwidth (under <see cref="PreCopyOptions.BandwidthBytesPerSecond"/>, a token bucket) and the guest's dirty
/// rate, until the pages left would take at most <see cref="PreCopyOptions.MaxDowntime"/> to send, or the round limit.
/// Then it pauses the VM and harvests once more. Pre-copy sends the last dirty pages and the vCPU, platform and device
/// state (the snapshot format's blobs), waits for the target to have built the machine, and tells it to go. Post-copy
/// (<see cref="PreCopyOptions.PostCopy"/>: always after round 0, or in auto mode when pre-copy does not converge) tells
/// the target instead which of its pages of memslot 0 are stale, sends the state and the go-ahead at once, and then
/// serves the target's page requests while pushing the rest (<see cref="PostCopySource"/>) until every page is there.
/// If anything fails before the go-ahead (the target refuses, the stream breaks, cancellation), dirty logging is turned
/// off again, a paused VM is resumed, and a <see cref="MigrationException"/> (or <see cref="OperationCanceledException"/>)
/// says why: the source keeps running. From the go-ahead on the source never runs again (the target may be running
/// it): a failure then is a <see cref="MigrationException"/> with <see cref="MigrationException.SourceStopped"/> set, and
/// the switchover counts as done only once the target confirmed it. After a successful return the source VM stays
/// paused; its owner destroys it.
/// </summary>
public static class PreCopySource
{
    /// <summary>
    /// Migrates <paramref name="vm"/> over <paramref name="channel"/> (not disposed here). <paramref name="progress"/> is
    /// called after each round on the calling thread.
    /// </summary>
    /// <exception cref="MigrationException">the migration failed; before the go-ahead the source VM runs, after it (<see cref="MigrationException.SourceStopped"/>) it stays paused.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancel"/> fired before the go-ahead; the source VM runs and the target was told.</exception>
    public static MigrationResult Run(IMigratingVm vm, MigrationChannel channel, PreCopyOptions? options = null,
        Action<PreCopyRound>? progress = null, CancellationToken cancel = default)
    {
        ArgumentNullException.ThrowIfNull(vm);
        ArgumentNullException.ThrowIfNull(channel);
        options ??= new PreCopyOptions();
        options.Validate();
        var parts = vm.Parts;
        var regions = parts.MemoryRegions;
        // Lazy memory with every page present (a VM that arrived by post-copy, once it completed) reads like any other.
        if (regions.FirstOrDefault(r => r.Lazy is { } l && l.PresentPages < (long)l.PageCount) is { Lazy: { } missing } lazy)
            throw new MigrationException($"memslot {lazy.Slot} of VM '{vm.Name}' is lazily filled memory with {(long)missing.PageCount - missing.PresentPages} of {missing.PageCount} pages not there yet, which live migration does not move yet");
        bool postCopyPossible = options.PostCopy != PostCopyMode.Never;
        var header = new MigrationHeader
        {
            VmName = vm.Name,
            Accelerator = parts.Vm.Kind,
            Image = parts.Spec.Image is RestoredGuestImage restored ? restored.OriginalImage : parts.Spec.Image.Name,
            Platform = parts.Platform,
            PostCopy = postCopyPossible,
            VcpuCount = parts.Vcpus.Count,
            Memory = [.. regions.Select(r => new MigrationRegionLayout(r.Slot, r.GuestPhysicalAddress, r.Size))],
        };
        var total = Stopwatch.StartNew();
        channel.Write(MigrationFrameKind.Header, header.Encode());
        channel.Expect(MigrationFrameKind.Accepted, "target");

        var originals = regions.Select(r => parts.Vm.Memslots.ById(r.Slot)
            ?? throw new MigrationException($"memslot {r.Slot} of VM '{vm.Name}' is not mapped in its accelerator VM")).ToList();
        var limit = options.BandwidthBytesPerSecond is { } rate ? new TokenBucket(rate) : null;
        bool paused = false, goSent = false;
        try
        {
            foreach (var slot in originals.Where(s => !s.LogsDirtyPages)) parts.Vm.SetMemoryRegion(slot with { Flags = slot.Flags | MemslotFlags.LogDirtyPages });
            var log = parts.Vm.DirtyLog;
            var writer = new PageBatchWriter(channel, limit, cancel);
            var page = new byte[PageSize.Bytes];
            var rounds = new List<PreCopyRound>();
            double appliedSeconds = 0;
            long appliedBytes = 0;

            // Sends the pages of each region's set (all pages when null), waits until the target applied them, then
            // harvests; returns the round's report. The bandwidth is what the target applied over the time it took, so
            // bytes still in socket buffers never count as sent.
            DirtyBitmap[] SendRound(int number, DirtyBitmap[]? sets)
            {
                var clock = Stopwatch.StartNew();
                long before = channel.BytesWritten, data = writer.DataPages, zero = writer.ZeroPages;
                for (int i = 0; i < regions.Count; i++)
                {
                    var region = regions[i];
                    var pages = sets is null ? Range(region.PageCount) : sets[i].SetPages();
                    foreach (var p in pages)
                    {
                        cancel.ThrowIfCancellationRequested();
                        region.Memory.Read(p << PageSize.Shift, page);
                        // A lazy target has no page until one is installed: the first pass sends zero pages too (8 bytes each).
                        writer.Add(region.Slot, p, page, skipZero: sets is null && !postCopyPossible);
                    }
                }
                writer.Send();
                EndRound(channel, MigrationFrameKind.RoundEnd, number);
                long wire = channel.BytesWritten - before;
                appliedSeconds += clock.Elapsed.TotalSeconds;
                appliedBytes += wire;
                var dirty = Harvest(parts.Vm.DirtyLog, regions);
                long left = dirty.Sum(d => (long)d.Count());
                double bandwidth = appliedSeconds > 0 ? appliedBytes / appliedSeconds : double.PositiveInfinity;
                if (limit is not null) bandwidth = Math.Min(bandwidth, limit.BytesPerSecond);
                var round = new PreCopyRound(number, writer.DataPages - data, writer.ZeroPages - zero, wire, clock.Elapsed, left,
                    left / Math.Max(clock.Elapsed.TotalSeconds, 1e-6), bandwidth, Expected(left, bandwidth));
                rounds.Add(round);
                progress?.Invoke(round);
                return dirty;
            }

            var pending = SendRound(0, null);
            bool converged, postCopy = false;
            while (true)
            {
                var last = rounds[^1];
                converged = last.ExpectedDowntime <= options.MaxDowntime;
                if (options.PostCopy == PostCopyMode.Always)
                {
                    postCopy = true;
                    break;
                }
                if (converged) break;
                // Auto: a dirty-log round whose guest dirtied memory faster than the stream carries it can never converge.
                bool outrun = last.Number > 0 && last.DirtyPagesPerSecond * PageSize.Bytes > last.BandwidthBytesPerSecond;
                if (options.PostCopy == PostCopyMode.Auto && (outrun || rounds.Count > options.MaxRounds))
                {
                    postCopy = true;
                    break;
                }
                if (rounds.Count > options.MaxRounds) break;
                pending = SendRound(rounds.Count, pending);
            }

            // By post-copy, memslot 0's pages the target holds stale copies of: pending[0] from here on collects every
            // page dirtied since it was sent (the pages post-copy brings), `discarded` those the target dropped already.
            var discarded = new DirtyBitmap(regions[0].PageCount);
            var discardRounds = postCopy ? DiscardWhileRunning(channel, log, regions, pending, discarded, options.MaxDowntime, cancel) : [];

            cancel.ThrowIfCancellationRequested();
            var step = Stopwatch.StartNew();
            var content = vm.Pause();
            paused = true;
            var downtime = Stopwatch.StartNew();
            var pauseTime = step.Elapsed;
            step.Restart();
            var final = Harvest(log, regions);
            for (int i = 0; i < regions.Count; i++)
                foreach (var p in final[i].SetPages()) pending[i].Set(p);
            var harvestTime = step.Elapsed;
            step.Restart();
            long finalPages = 0;
            for (int i = 0; i < regions.Count; i++)
            {
                // By post-copy memslot 0's stale pages are discarded on the target, which fetches them after the switchover.
                if (postCopy && i == 0) continue;
                foreach (var p in pending[i].SetPages())
                {
                    regions[i].Memory.Read(p << PageSize.Shift, page);
                    writer.Add(regions[i].Slot, p, page);
                    finalPages++;
                }
            }
            writer.Send();
            var lastPagesTime = step.Elapsed;
            step.Restart();
            if (postCopy) SendDiscards(channel, regions[0].Slot, Except(pending[0], discarded));
            var discardTime = step.Elapsed;
            step.Restart();
            channel.Write(MigrationFrameKind.State, MigratedState.Of(content).Encode());
            channel.Expect(MigrationFrameKind.Ready, "target");
            var stateTime = step.Elapsed;
            step.Restart();
            // The go-ahead: from here on this copy never runs again, whatever happens to the stream.
            goSent = true;
            var pauseEnded = downtime.Elapsed;
            var goTime = TimeSpan.Zero;
            try
            {
                channel.Write(postCopy ? MigrationFrameKind.GoPostCopy : MigrationFrameKind.Go, ReadOnlySpan<byte>.Empty);
                channel.Flush();
                pauseEnded = downtime.Elapsed;
                goTime = step.Elapsed;
                channel.Expect(MigrationFrameKind.Committed, "target");
            }
            catch (MigrationException e)
            {
                throw new MigrationException($"the target did not confirm the go-ahead ({e.Message}): it may or may not run VM '{vm.Name}' now; " +
                    "this copy stays stopped so that no two copies run", e, sourceStopped: true);
            }
            var timings = new SwitchoverTimings(pauseTime, harvestTime, lastPagesTime, discardTime, stateTime, goTime);
            var stats = postCopy ? PostCopySource.Serve(channel, regions[0], pending[0], limit, vm.Name, cancel) : null;
            return new MigrationResult(rounds, converged, finalPages, channel.BytesWritten, header.MemoryBytes, pauseEnded, total.Elapsed)
            {
                PostCopy = stats,
                DiscardRounds = discardRounds,
                Switchover = timings,
            };
        }
        catch (OperationCanceledException) when (!goSent)
        {
            TryTell(channel, MigrationFrameKind.Abort, "cancelled on the source");
            throw;
        }
        finally
        {
            if (!goSent)
            {
                foreach (var slot in originals) TryRestore(parts.Vm, slot);
                if (paused) vm.Resume();
            }
        }
    }

    /// <summary>Discard rounds before the pause at most (each drops what the guest made stale during the one before).</summary>
    public const int MaxDiscardRounds = 5;

    // Post-copy, before the pause: the target drops the stale pages of memslot 0 while the guest still runs here, round
    // after round (each harvests what the guest dirtied since the last harvest, sends what the target still holds of it
    // and waits for the target's acknowledgement), until what is left would take the target at most a tenth of the
    // downtime budget at the rate it dropped pages so far. Every harvested page joins `pending` (per region: what is
    // stale on the target); memslot 0's dropped ones join `discarded`.
    private static List<DiscardRound> DiscardWhileRunning(MigrationChannel channel, IDirtyLog log, IReadOnlyList<SnapshotMemoryRegion> regions,
        DirtyBitmap[] pending, DirtyBitmap discarded, TimeSpan maxDowntime, CancellationToken cancel)
    {
        var done = new List<DiscardRound>();
        double seconds = 0, pages = 0;
        for (int number = 0; number < MaxDiscardRounds; number++)
        {
            var dirty = Harvest(log, regions);
            for (int i = 0; i < regions.Count; i++)
                for (int w = 0; w < dirty[i].WordCount; w++) pending[i].OrWord(w, dirty[i].ReadWord(w));
            var fresh = Except(pending[0], discarded);
            long count = (long)fresh.Count();
            if (count == 0) break;
            if (pages > 0 && count * (seconds / pages) <= maxDowntime.TotalSeconds / 10) break;
            cancel.ThrowIfCancellationRequested();
            var clock = Stopwatch.StartNew();
            SendDiscards(channel, regions[0].Slot, fresh);
            EndRound(channel, MigrationFrameKind.DiscardRoundEnd, number);
            var took = clock.Elapsed;
            seconds += took.TotalSeconds;
            pages += count;
            for (int w = 0; w < fresh.WordCount; w++) discarded.OrWord(w, fresh.ReadWord(w));
            done.Add(new DiscardRound(count, took));
        }
        return done;
    }

    // The pages set in `a` and not in `b`.
    private static DirtyBitmap Except(DirtyBitmap a, DirtyBitmap b)
    {
        var result = new DirtyBitmap(a.Pages);
        for (int w = 0; w < a.WordCount; w++) result.OrWord(w, a.ReadWord(w) & ~b.ReadWord(w));
        return result;
    }

    // Ends a round (a RoundEnd or DiscardRoundEnd frame numbered `number`) and waits until the target says it applied
    // everything up to it: it must have read exactly the bytes this side wrote through that frame.
    private static void EndRound(MigrationChannel channel, MigrationFrameKind kind, int number)
    {
        channel.Write(kind, BitConverter.GetBytes((uint)number));
        long through = channel.BytesWritten;
        var ack = RoundAcknowledgement.Decode(channel.Expect(MigrationFrameKind.RoundApplied, "target"));
        if (ack.Round != (uint)number || ack.BytesRead != through)
            throw new MigrationException($"the target acknowledged round {ack.Round} after {ack.BytesRead} bytes; round {number} ended after {through}");
    }

    /// <summary>Pages listed in one discard frame at most (512 KiB of indices).</summary>
    private const int DiscardPagesPerFrame = 65536;

    // The pages of memslot 0 the target holds stale copies of, in frames of page indices.
    private static void SendDiscards(MigrationChannel channel, uint slot, DirtyBitmap stale)
    {
        var body = new byte[8 + 8 * DiscardPagesPerFrame];
        int count = 0;
        void Flush()
        {
            if (count == 0) return;
            BinaryPrimitives.WriteUInt32LittleEndian(body, slot);
            BinaryPrimitives.WriteUInt32LittleEndian(body.AsSpan(4), (uint)count);
            channel.Write(MigrationFrameKind.Discard, body.AsSpan(0, 8 + 8 * count));
            count = 0;
        }
        foreach (var p in stale.SetPages())
        {
            BinaryPrimitives.WriteUInt64LittleEndian(body.AsSpan(8 + 8 * count), p);
            if (++count == DiscardPagesPerFrame) Flush();
        }
        Flush();
    }

    private static IEnumerable<ulong> Range(ulong count)
    {
        for (ulong p = 0; p < count; p++) yield return p;
    }

    // The pages written since the last harvest, each region's; with manual protection they are cleared before being copied.
    private static DirtyBitmap[] Harvest(IDirtyLog log, IReadOnlyList<SnapshotMemoryRegion> regions)
    {
        var sets = new DirtyBitmap[regions.Count];
        for (int i = 0; i < regions.Count; i++)
        {
            sets[i] = log.GetDirtyLog(regions[i].Slot);
            if (log.ManualProtect && sets[i].Count() > 0) log.ClearDirtyLog(regions[i].Slot, 0, sets[i]);
        }
        return sets;
    }

    private static TimeSpan Expected(long pages, double bandwidth) =>
        double.IsPositiveInfinity(bandwidth) || pages == 0 ? TimeSpan.Zero : TimeSpan.FromSeconds(pages * (double)PageBatchWriter.MaxPageWireBytes / bandwidth);

    private static void TryTell(MigrationChannel channel, MigrationFrameKind kind, string reason)
    {
        try
        {
            channel.Write(kind, reason);
            channel.Flush();
        }
        catch (MigrationException)
        {
            // The stream is gone already: the target sees it end.
        }
    }

    // Back to the slot as it was (logging off unless it logged before); a VM being torn down may refuse.
    private static void TryRestore(Accel.IVirtualMachine vm, Memslot original)
    {
        try
        {
            if (vm.Memslots.ById(original.Slot) is { } now && now.Flags != original.Flags) vm.SetMemoryRegion(original);
        }
        catch (ObjectDisposedException)
        {
        }
    }
}
