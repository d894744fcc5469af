using System.Diagnostics;

namespace Actorvisor.Hardware.Migration;

/// <summary>
/// The target's side of post-copy, from the go-ahead on: a thread of its own reads the stream, installs each page the
/// source sends (answers to the target's requests and background pushes alike) into the holes of the lazy memory only,
/// and completes the fetches waiting on it; when the source says every page is sent it checks every page is present
/// and answers <see cref="MigrationFrameKind.Complete"/>. If the stream breaks first, the source is gone with pages
/// still only there: <see cref="Completion"/> fails with a reason that says so, and so does every fetch of a missing
/// page (the VM cannot go on; post-copy's known risk). The owner disposes the stream once it has ended.
/// </summary>
public sealed class PostCopyReceiver
{
    private readonly MigrationChannel _channel;
    private readonly MigrationTargetMemory _memory;
    private readonly RemotePageStore _store;
    private readonly string _vmName;
    private readonly TaskCompletionSource _done = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private long _pages;

    private PostCopyReceiver(MigrationChannel channel, MigrationTargetMemory memory, RemotePageStore store, string vmName)
    {
        _channel = channel;
        _memory = memory;
        _store = store;
        _vmName = vmName;
        MissingAtStart = (long)(memory.Lazy!.PageCount - (ulong)memory.Lazy.PresentPages);
    }

    /// <summary>Starts reading <paramref name="channel"/> for VM <paramref name="vmName"/> into <paramref name="memory"/>'s lazy memslot.</summary>
    internal static PostCopyReceiver Start(MigrationChannel channel, MigrationTargetMemory memory, RemotePageStore store, string vmName)
    {
        var receiver = new PostCopyReceiver(channel, memory, store, vmName);
        Task.Factory.StartNew(receiver.Run, TaskCreationOptions.LongRunning);
        return receiver;
    }

    /// <summary>Completes when every page is present and the source was told; fails (<see cref="MigrationException"/>) when the source is gone first.</summary>
    public Task Completion => _done.Task;

    /// <summary>Pages of memslot 0 missing at the switchover.</summary>
    public long MissingAtStart { get; }

    /// <summary>Pages the target asked the source for: remote faults and their readahead.</summary>
    public long RemoteFaults => _store.Requests;

    /// <summary>Pages received after the switchover.</summary>
    public long PagesReceived => Interlocked.Read(ref _pages);

    /// <summary>Pages received after the switchover that were present already and so were not written.</summary>
    public long StalePages => _memory.StalePages;

    /// <summary>From the go-ahead to completion (or to now).</summary>
    public TimeSpan Elapsed => _clock.Elapsed;

    /// <summary>The page store of the lazy memory.</summary>
    public RemotePageStore Store => _store;

    private void Run()
    {
        var lazy = _memory.Lazy!;
        try
        {
            while (true)
            {
                var (kind, body) = _channel.ReadUnflushed();
                switch (kind)
                {
                    case MigrationFrameKind.Pages:
                        Interlocked.Add(ref _pages, _memory.Apply(body, holesOnly: true, (_, page, content) => _store.Arrived(page, content)));
                        break;
                    case MigrationFrameKind.PostCopyEnd:
                        long missing = (long)lazy.PageCount - lazy.PresentPages;
                        if (lazy.IsClosed) throw new MigrationException($"VM '{_vmName}' was torn down during post-copy");
                        if (missing != 0) throw new MigrationException($"the source ended post-copy of VM '{_vmName}' with {missing} pages still missing here");
                        _clock.Stop();
                        _store.Send(MigrationFrameKind.Complete);
                        _done.TrySetResult();
                        return;
                    case MigrationFrameKind.Abort:
                        throw new MigrationException($"the source aborted post-copy: {System.Text.Encoding.UTF8.GetString(body)}");
                    default:
                        throw new MigrationException($"the source sent a {kind} frame during post-copy");
                }
            }
        }
        catch (MigrationException e)
        {
            _clock.Stop();
            string reason = $"the migration source of VM '{_vmName}' is gone during post-copy with {(long)lazy.PageCount - lazy.PresentPages} pages only it held ({e.Message})";
            _store.Fail(reason);
            _done.TrySetException(new MigrationException(reason, e, sourceStopped: true));
        }
    }
}
