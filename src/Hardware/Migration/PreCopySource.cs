using System.Diagnostics;
using Actorvisor.Hardware.Memory;
using Actorvisor.Hardware.Mmu;
using Actorvisor.Hardware.Native;
using Actorvisor.Hardware.Snapshots;

namespace Actorvisor.Hardware.Migration;

/// <summary>
/// The source side of a pre-copy live migration over a <see cref="MigrationChannel"/>. It sends the header and waits
/// for the target to accept; turns on dirty logging on every memslot; round 0 sends every page holding data while the
/// guest runs; each later round harvests the dirty log (<see cref="IDirtyLog"/>: the software MMU's SPTEs or
/// KVM_GET_DIRTY_LOG) and resends those pages, measuring the stream's bandwidth and the guest's dirty rate, until the
/// pages left would take at most <see cref="PreCopyOptions.MaxDowntime"/> to send, or the round limit. Then it pauses
/// the VM, harvests once more, sends the last dirty pages and the vCPU, platform and device state (the snapshot
/// format's blobs), waits for the target to have built the machine, and tells it to go. If anything fails before that
/// go-ahead (the target refuses, the stream breaks, cancellation), dirty logging is turned off again, a paused VM is
/// resumed, and a <see cref="MigrationException"/> (or <see cref="OperationCanceledException"/>) says why: the source
/// keeps running. After a successful return the source VM stays paused; its owner destroys it.
/// </summary>
public static class PreCopySource
{
    /// <summary>
    /// Migrates <paramref name="vm"/> over <paramref name="channel"/> (not disposed here). <paramref name="progress"/> is
    /// called after each round on the calling thread.
    /// </summary>
    /// <exception cref="MigrationException">the migration failed before switchover; the source VM runs.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancel"/> fired before switchover; the source VM runs and the target was told.</exception>
    public static MigrationResult Run(IMigratingVm vm, MigrationChannel channel, PreCopyOptions? options = null,
        Action<PreCopyRound>? progress = null, CancellationToken cancel = default)
    {
        ArgumentNullException.ThrowIfNull(vm);
        ArgumentNullException.ThrowIfNull(channel);
        options ??= new PreCopyOptions();
        if (options.MaxDowntime < TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(options), options.MaxDowntime, "the downtime budget must not be negative");
        if (options.MaxRounds < 0) throw new ArgumentOutOfRangeException(nameof(options), options.MaxRounds, "the round limit must not be negative");
        var parts = vm.Parts;
        var regions = parts.MemoryRegions;
        if (regions.FirstOrDefault(r => r.Lazy is not null) is { } lazy)
            throw new MigrationException($"memslot {lazy.Slot} of VM '{vm.Name}' is lazily filled memory, which live migration does not move yet");
        var header = new MigrationHeader
        {
            VmName = vm.Name,
            Accelerator = parts.Vm.Kind,
            Image = parts.Spec.Image is RestoredGuestImage restored ? restored.OriginalImage : parts.Spec.Image.Name,
            VcpuCount = parts.Vcpus.Count,
            Memory = [.. regions.Select(r => new MigrationRegionLayout(r.Slot, r.GuestPhysicalAddress, r.Size))],
        };
        var total = Stopwatch.StartNew();
        channel.Write(MigrationFrameKind.Header, header.Encode());
        channel.Expect(MigrationFrameKind.Accepted, "target");

        var originals = regions.Select(r => parts.Vm.Memslots.ById(r.Slot)
            ?? throw new MigrationException($"memslot {r.Slot} of VM '{vm.Name}' is not mapped in its accelerator VM")).ToList();
        bool paused = false, switchedOver = false;
        try
        {
            foreach (var slot in originals.Where(s => !s.LogsDirtyPages)) parts.Vm.SetMemoryRegion(slot with { Flags = slot.Flags | MemslotFlags.LogDirtyPages });
            var log = parts.Vm.DirtyLog;
            var writer = new PageBatchWriter(channel);
            var page = new byte[PageSize.Bytes];
            var rounds = new List<PreCopyRound>();
            double sendSeconds = 0;
            long sendBytes = 0;

            // Sends the pages of each region's set (all pages when null), then harvests; returns the round's report.
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
                        writer.Add(region.Slot, p, page, skipZero: sets is null);
                    }
                }
                writer.Send();
                channel.Write(MigrationFrameKind.RoundEnd, BitConverter.GetBytes((uint)number));
                channel.Flush();
                long wire = channel.BytesWritten - before;
                sendSeconds += clock.Elapsed.TotalSeconds;
                sendBytes += wire;
                var dirty = Harvest(parts.Vm.DirtyLog, regions);
                long left = dirty.Sum(d => (long)d.Count());
                double bandwidth = sendSeconds > 0 ? sendBytes / sendSeconds : double.PositiveInfinity;
                var round = new PreCopyRound(number, writer.DataPages - data, writer.ZeroPages - zero, wire, clock.Elapsed, left,
                    left / Math.Max(clock.Elapsed.TotalSeconds, 1e-6), bandwidth, Expected(left, bandwidth));
                rounds.Add(round);
                progress?.Invoke(round);
                return dirty;
            }

            var pending = SendRound(0, null);
            bool converged;
            while (true)
            {
                var last = rounds[^1];
                converged = last.ExpectedDowntime <= options.MaxDowntime;
                if (converged || rounds.Count > options.MaxRounds) break;
                pending = SendRound(rounds.Count, pending);
            }

            cancel.ThrowIfCancellationRequested();
            var content = vm.Pause();
            paused = true;
            var downtime = Stopwatch.StartNew();
            var final = Harvest(log, regions);
            long finalPages = 0;
            for (int i = 0; i < regions.Count; i++)
            {
                foreach (var p in final[i].SetPages()) pending[i].Set(p);
                foreach (var p in pending[i].SetPages())
                {
                    regions[i].Memory.Read(p << PageSize.Shift, page);
                    writer.Add(regions[i].Slot, p, page);
                    finalPages++;
                }
            }
            writer.Send();
            channel.Write(MigrationFrameKind.State, MigratedState.Of(content).Encode());
            channel.Expect(MigrationFrameKind.Ready, "target");
            channel.Write(MigrationFrameKind.Go, ReadOnlySpan<byte>.Empty);
            channel.Flush();
            switchedOver = true;
            return new MigrationResult(rounds, converged, finalPages, channel.BytesWritten, header.MemoryBytes, downtime.Elapsed, total.Elapsed);
        }
        catch (OperationCanceledException)
        {
            TryTell(channel, MigrationFrameKind.Abort, "cancelled on the source");
            throw;
        }
        finally
        {
            if (!switchedOver)
            {
                foreach (var slot in originals) TryRestore(parts.Vm, slot);
                if (paused) vm.Resume();
            }
        }
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
