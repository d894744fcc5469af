using System.Buffers.Binary;
using Actorvisor.Hardware.Lazy;
using Actorvisor.Hardware.Native;

namespace Actorvisor.Hardware.Migration;

/// <summary>
/// The backing store of a post-copy migration target's lazy memory: the migration source. A page the guest faults on
/// is asked for with a <see cref="MigrationFrameKind.PageRequest"/> on the migration stream (once per page, however
/// many fetches wait for it) and the fetch completes when the page arrives, answering a request or pushed by the
/// source, whichever comes first (<see cref="Arrived"/>). A page present already is read from the memory. Once the
/// stream is gone (<see cref="Fail"/>) every waiting and later read throws with the reason. Owns the stream's writing
/// side after the switchover (one writer at a time); thread-safe.
/// </summary>
public sealed class RemotePageStore : IBackingStore
{
    private readonly MigrationChannel _channel;
    private readonly object _gate = new();
    private readonly object _writeGate = new();
    private readonly Dictionary<ulong, TaskCompletionSource<byte[]>> _waiting = [];
    private LazyGuestMemory? _region;
    private string? _failure;
    private long _requests;

    /// <summary>The store of VM <paramref name="vmName"/>'s memslot 0, asking on <paramref name="channel"/>.</summary>
    public RemotePageStore(MigrationChannel channel, string vmName)
    {
        _channel = channel ?? throw new ArgumentNullException(nameof(channel));
        Description = $"post-copy from the migration source of VM '{vmName}'";
    }

    /// <inheritdoc />
    public string Description { get; }

    /// <summary>Pages asked of the source (each once): the remote faults, readahead included.</summary>
    public long Requests => Interlocked.Read(ref _requests);

    /// <summary>The lazy memory the pages go to (its present pages are read from it). Once.</summary>
    public void Attach(LazyGuestMemory region)
    {
        ArgumentNullException.ThrowIfNull(region);
        if (Interlocked.CompareExchange(ref _region, region, null) is not null) throw new InvalidOperationException("the store is attached already");
    }

    /// <inheritdoc />
    public async ValueTask<PageContent> ReadPageAsync(ulong pageIndex, Memory<byte> page, CancellationToken cancellationToken = default)
    {
        if ((ulong)page.Length != PageSize.Bytes) throw new ArgumentException($"a page is {PageSize.Bytes} bytes, got {page.Length}", nameof(page));
        var region = Volatile.Read(ref _region) ?? throw new InvalidOperationException("the store is not attached to its lazy memory");
        TaskCompletionSource<byte[]>? wait;
        bool ask = false;
        lock (_gate)
        {
            if (_failure is { } failure) throw new BackingStoreException($"{Description}: page {pageIndex}: {failure}");
            // Present already (arrived, or installed by another fetch): the memory holds it, and touching it does not fault.
            if (region.IsPresent(pageIndex))
            {
                region.Memory.Read(pageIndex << PageSize.Shift, page.Span);
                return page.Span.ContainsAnyExcept((byte)0) ? PageContent.Data : PageContent.Zero;
            }
            if (!_waiting.TryGetValue(pageIndex, out wait))
            {
                _waiting[pageIndex] = wait = new TaskCompletionSource<byte[]>(TaskCreationOptions.RunContinuationsAsynchronously);
                ask = true;
            }
        }
        if (ask) Ask(pageIndex);
        var content = await wait.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        if (content.Length == 0) return PageContent.Zero;
        content.CopyTo(page);
        return PageContent.Data;
    }

    private void Ask(ulong pageIndex)
    {
        Span<byte> body = stackalloc byte[12];
        BinaryPrimitives.WriteUInt32LittleEndian(body, 0);
        BinaryPrimitives.WriteUInt64LittleEndian(body[4..], pageIndex);
        try
        {
            lock (_writeGate)
            {
                _channel.Write(MigrationFrameKind.PageRequest, body);
                _channel.Flush();
            }
            Interlocked.Increment(ref _requests);
        }
        catch (MigrationException e)
        {
            Fail($"asking the source for a page failed: {e.Message}");
        }
    }

    /// <summary>
    /// Page <paramref name="pageIndex"/> arrived with <paramref name="content"/> (empty: a zero page) and is installed (or
    /// was present): the fetches waiting on it complete. Called by the stream's reader after the install.
    /// </summary>
    public void Arrived(ulong pageIndex, ReadOnlySpan<byte> content)
    {
        TaskCompletionSource<byte[]>? wait;
        lock (_gate)
        {
            if (!_waiting.Remove(pageIndex, out wait)) return;
        }
        wait.TrySetResult(content.ToArray());
    }

    /// <summary>Sends a frame to the source (the stream's reader answering <see cref="MigrationFrameKind.Complete"/>).</summary>
    /// <exception cref="MigrationException">the stream broke.</exception>
    public void Send(MigrationFrameKind kind)
    {
        lock (_writeGate)
        {
            _channel.Write(kind, ReadOnlySpan<byte>.Empty);
            _channel.Flush();
        }
    }

    /// <summary>The source is gone (<paramref name="reason"/>): every fetch waiting, and every later one, throws <see cref="BackingStoreException"/>.</summary>
    public void Fail(string reason)
    {
        List<TaskCompletionSource<byte[]>> waiting;
        lock (_gate)
        {
            _failure ??= reason;
            waiting = [.. _waiting.Values];
            _waiting.Clear();
        }
        foreach (var wait in waiting) wait.TrySetException(new BackingStoreException($"{Description}: {reason}"));
    }
}
