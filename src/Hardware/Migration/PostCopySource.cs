using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Diagnostics;
using Actorvisor.Hardware.Mmu;
using Actorvisor.Hardware.Native;
using Actorvisor.Hardware.Snapshots;

namespace Actorvisor.Hardware.Migration;

/// <summary>
/// The source's side of post-copy, after its go-ahead: the VM is paused here for good and runs on the target, which
/// lacks the pages of memslot 0 this side holds in a bitmap. A thread reads the target's page requests; the sending
/// loop answers them first (and moves its background push to just after the page asked for: the guest's next faults
/// are likely near it), then pushes the next batch of what is left, honouring the bandwidth limit for both (under a
/// limit a push batch is 20 ms of the rate, so a request waits at most about that long behind one). When every page is sent it says so
/// and waits for the target's completion. Any failure here is one the source cannot undo: the exception says the
/// target cannot complete the VM.
/// </summary>
internal static class PostCopySource
{
    /// <summary>Pages a background push sends between two looks at the requests without a limit (256 KiB).</summary>
    private const int PushBatchPages = 64;

    public static PostCopyStats Serve(MigrationChannel channel, SnapshotMemoryRegion region, DirtyBitmap missing, TokenBucket? limit, string vmName,
        CancellationToken cancel)
    {
        var clock = Stopwatch.StartNew();
        long before = channel.BytesWritten;
        long total = (long)missing.Count(), left = total, pushed = 0, answered = 0, requests = 0;
        var asked = new ConcurrentQueue<ulong>();
        int batchPages = limit is null ? PushBatchPages
            : (int)Math.Clamp(limit.BytesPerSecond / 50 / PageBatchWriter.MaxPageWireBytes, 1, PushBatchPages);
        var complete = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Task.Factory.StartNew(() => ReadRequests(channel, region, asked, complete), TaskCreationOptions.LongRunning);
        var writer = new PageBatchWriter(channel);
        var page = new byte[PageSize.Bytes];
        ulong cursor = 0;

        void SendPage(ulong p)
        {
            region.Memory.Read(p << PageSize.Shift, page);
            writer.Add(region.Slot, p, page);
        }

        try
        {
            while (left > 0)
            {
                cancel.ThrowIfCancellationRequested();
                if (complete.Task.IsFaulted) complete.Task.GetAwaiter().GetResult();
                long answeredBefore = answered;
                while (asked.TryDequeue(out ulong p))
                {
                    requests++;
                    // A page sent already is on its way (every batch is flushed): the target completes its fetch when it arrives.
                    if (!missing.Clear(p)) continue;
                    SendPage(p);
                    answered++;
                    left--;
                    cursor = p + 1;
                }
                if (answered > answeredBefore)
                {
                    long start = channel.BytesWritten;
                    writer.Send();
                    channel.Flush();
                    if (limit?.Take(channel.BytesWritten - start) is { } debt && debt > TimeSpan.Zero) cancel.WaitHandle.WaitOne(debt);
                }
                int batch = 0;
                for (; batch < batchPages && left > 0; batch++)
                {
                    ulong p = NextMissing(missing, cursor);
                    missing.Clear(p);
                    SendPage(p);
                    pushed++;
                    left--;
                    cursor = p + 1;
                }
                // Under a limit the batch waits for its tokens before it goes (a batch is 20 ms of the rate, so a request
                // waits at most about that long behind it).
                if (limit?.Take(batch * (long)PageBatchWriter.MaxPageWireBytes) is { } wait && wait > TimeSpan.Zero) cancel.WaitHandle.WaitOne(wait);
                cancel.ThrowIfCancellationRequested();
                writer.Send();
                channel.Flush();
            }
            channel.Write(MigrationFrameKind.PostCopyEnd, ReadOnlySpan<byte>.Empty);
            channel.Flush();
            complete.Task.Wait(cancel);
            return new PostCopyStats(total, pushed, answered, requests, channel.BytesWritten - before, clock.Elapsed);
        }
        catch (AggregateException e) when (e.InnerException is MigrationException inner)
        {
            throw Lost(vmName, total - left, total, inner.Message, inner);
        }
        catch (MigrationException e)
        {
            throw Lost(vmName, total - left, total, e.Message, e);
        }
        catch (OperationCanceledException e)
        {
            throw Lost(vmName, total - left, total, "cancelled on the source", e);
        }
    }

    private static MigrationException Lost(string vmName, long sent, long total, string why, Exception inner) =>
        new($"post-copy of VM '{vmName}' ended after {sent} of the {total} pages the target lacked: {why}; the target cannot complete the VM " +
            "and this copy stays stopped", inner, sourceStopped: true);

    // The first missing page at or after the cursor, wrapping round; there is one.
    private static ulong NextMissing(DirtyBitmap missing, ulong cursor)
    {
        int words = missing.WordCount;
        int start = (int)(cursor % missing.Pages >> 6);
        for (int i = 0; i <= words; i++)
        {
            int w = (start + i) % words;
            ulong bits = missing.ReadWord(w);
            // In the cursor's own word on the first look, only the bits at or after it.
            if (i == 0) bits &= ~0UL << (int)(cursor % missing.Pages & 63);
            if (bits != 0) return ((ulong)w << 6) + (ulong)System.Numerics.BitOperations.TrailingZeroCount(bits);
        }
        throw new InvalidOperationException("no missing page is left");
    }

    private static void ReadRequests(MigrationChannel channel, SnapshotMemoryRegion region, ConcurrentQueue<ulong> asked, TaskCompletionSource complete)
    {
        try
        {
            while (true)
            {
                var (kind, body) = channel.ReadUnflushed();
                switch (kind)
                {
                    case MigrationFrameKind.PageRequest:
                        if (body.Length != 12) throw new MigrationException($"a page request of {body.Length} bytes");
                        uint slot = BinaryPrimitives.ReadUInt32LittleEndian(body);
                        ulong page = BinaryPrimitives.ReadUInt64LittleEndian(body.AsSpan(4));
                        if (slot != region.Slot || page >= region.PageCount) throw new MigrationException($"the target asked for page {page} of memslot {slot}, which post-copy does not serve");
                        asked.Enqueue(page);
                        break;
                    case MigrationFrameKind.Complete:
                        complete.TrySetResult();
                        return;
                    default:
                        throw new MigrationException($"the target sent a {kind} frame during post-copy");
                }
            }
        }
        catch (MigrationException e)
        {
            complete.TrySetException(e);
        }
        catch (ObjectDisposedException)
        {
            complete.TrySetException(new MigrationException("the stream was closed"));
        }
    }
}
