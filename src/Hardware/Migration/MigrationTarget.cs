using Actorvisor.Hardware.Accel;
using Actorvisor.Hardware.Devices;
using Actorvisor.Hardware.Lazy;
using Actorvisor.Hardware.Machines;
using Actorvisor.Hardware.Snapshots;

namespace Actorvisor.Hardware.Migration;

/// <summary>
/// The target side of a live migration over a <see cref="MigrationChannel"/>: reads the header and refuses it (another
/// protocol version, another accelerator kind, or whatever <c>admit</c> refuses, e.g. no room) or accepts it and
/// allocates the VM's memory (memslot 0 userfaultfd-lazy when the migration may end by post-copy); writes the page
/// batches into it as they come; drops the pages a post-copy switchover discards; on the state frame builds the
/// machine with <see cref="SnapshotRestore.Assemble"/> on the header's platform (a restore from memory instead of
/// files), offers it to its owner (<c>handOver</c>, which may still refuse), tells the source it is ready, and returns
/// the machine once the source says go, having confirmed the go-ahead (<see cref="MigrationFrameKind.Committed"/>).
/// By post-copy the machine comes back with a running <see cref="PostCopyReceiver"/> that keeps the stream until every
/// page is here. A refusal is sent to the source with its reason; a failure before the hand-over releases what was
/// allocated, after it leaves the machine to its owner. The rule: the target runs the VM only after it read go.
/// </summary>
public static class MigrationTarget
{
    /// <summary>
    /// Receives one VM on <paramref name="accelerator"/> from <paramref name="channel"/> (not disposed here; by post-copy
    /// the returned receiver reads it until its completion, and the caller disposes it after that). The VM's serial
    /// output goes to <paramref name="console"/>. <paramref name="admit"/> sees the header and returns a reason to refuse,
    /// or null. <paramref name="postCopyFaults"/> makes the fault sink of the lazy memslot 0 over its store (default: a
    /// <see cref="SynchronousPageResolver"/> on the fault reader's thread). <paramref name="handOver"/> sees the built
    /// machine before the source is told the target is ready and returns a reason to refuse, or null: its caller then
    /// owns the machine, also if the go-ahead never comes.
    /// </summary>
    /// <exception cref="MigrationException">the migration was refused, cancelled by the source, or the stream broke or was malformed.</exception>
    public static MigrationReceived Receive(IAccelerator accelerator, MigrationChannel channel, IConsoleSink console,
        Func<MigrationHeader, string?>? admit = null, Func<MigrationHeader, IBackingStore, IPageFaultSink>? postCopyFaults = null,
        Func<MigrationReceived, string?>? handOver = null)
    {
        ArgumentNullException.ThrowIfNull(accelerator);
        ArgumentNullException.ThrowIfNull(channel);
        ArgumentNullException.ThrowIfNull(console);
        var body = channel.Expect(MigrationFrameKind.Header, "source");
        MigrationHeader header;
        try
        {
            header = MigrationHeader.Decode(body);
        }
        catch (FormatException e)
        {
            throw Refuse(channel, e.Message);
        }
        if (header.Accelerator != accelerator.Kind)
            throw Refuse(channel, $"VM '{header.VmName}' runs on the {header.Accelerator} accelerator; this target runs the {accelerator.Kind} accelerator");
        if (admit?.Invoke(header) is { } reason) throw Refuse(channel, reason);

        RemotePageStore? store = null;
        MigrationTargetMemory memory;
        try
        {
            if (header.PostCopy)
            {
                store = new RemotePageStore(channel, header.VmName);
                var sink = (postCopyFaults ?? ((_, s) => new SynchronousPageResolver(s)))(header, store);
                memory = MigrationTargetMemory.Allocate(header, sink, store);
                store.Attach(memory.Lazy!);
            }
            else memory = MigrationTargetMemory.Allocate(header);
        }
        catch (MigrationException e)
        {
            throw Refuse(channel, e.Message);
        }
        MachineParts? parts = null;
        try
        {
            // The machine's shell now, while the pages come: at the pause only the state is left to load into it.
            parts = SnapshotRestore.Shell(accelerator, memory.Regions, memory.Lazy, Image(header), console, [.. memory.Regions.Skip(1).Select(r => r.Memory)],
                header.VcpuCount, (origin, e) => new FormatException($"{origin}: {e.Message}", e), header.Platform);
            // The software accelerator builds a vCPU's engine (Unicorn over the memslots) on its first state access, which
            // took 100-450 ms on a loaded host: reading each fresh vCPU's state builds it now instead of at the pause.
            if (accelerator.Kind == AcceleratorKind.Software)
                foreach (var vcpu in parts.Vcpus) vcpu.SaveState();
        }
        catch (Exception e)
        {
            // Whatever stops the machine being built here (the accelerator refusing a VM, a platform it lacks) refuses the
            // migration before any page is sent, and the source runs on.
            if (parts is not null) SnapshotRestore.ReleaseShell(parts);
            memory.Dispose();
            throw Refuse(channel, $"VM '{header.VmName}' cannot be built here: {e.Message}");
        }
        bool loaded = false;
        try
        {
            channel.Write(MigrationFrameKind.Accepted, ReadOnlySpan<byte>.Empty);
            channel.Flush();

            int rounds = 0;
            long pages = 0;
            while (true)
            {
                var (kind, frame) = channel.Read();
                switch (kind)
                {
                    case MigrationFrameKind.Pages:
                        pages += memory.Apply(frame, holesOnly: false);
                        break;
                    case MigrationFrameKind.RoundEnd:
                        rounds++;
                        RoundAcknowledgement.Answer(channel, frame);
                        break;
                    case MigrationFrameKind.DiscardRoundEnd:
                        RoundAcknowledgement.Answer(channel, frame);
                        break;
                    case MigrationFrameKind.Discard:
                        memory.Discard(frame);
                        break;
                    case MigrationFrameKind.State:
                        var build = System.Diagnostics.Stopwatch.StartNew();
                        Load(channel, header, parts, frame);
                        loaded = true;
                        memory.HandOver();
                        var received = new MigrationReceived(header, parts, rounds, pages) { DiscardCalls = memory.DiscardCalls };
                        if (handOver?.Invoke(received) is { } refusal) throw Refuse(channel, refusal);
                        received = received with { Build = build.Elapsed };
                        // From here on the machine is the owner's, whatever happens to the stream.
                        parts = null;
                        channel.Write(MigrationFrameKind.Ready, ReadOnlySpan<byte>.Empty);
                        return AwaitGo(channel, header, memory, store, received);
                    case MigrationFrameKind.Abort:
                        throw new MigrationException($"the source cancelled the migration of VM '{header.VmName}': {System.Text.Encoding.UTF8.GetString(frame)}");
                    default:
                        throw new MigrationException($"the source sent a {kind} frame during the page stream of VM '{header.VmName}'");
                }
            }
        }
        catch
        {
            if (parts is null) throw;
            if (loaded) parts.Dispose();
            else
            {
                SnapshotRestore.ReleaseShell(parts);
                memory.Dispose();
            }
            throw;
        }
    }

    // The machine is built and the source told: it runs here only if the go-ahead arrives, which is confirmed at once.
    private static MigrationReceived AwaitGo(MigrationChannel channel, MigrationHeader header, MigrationTargetMemory memory, RemotePageStore? store,
        MigrationReceived received)
    {
        var (kind, frame) = channel.Read();
        switch (kind)
        {
            case MigrationFrameKind.Go:
                TryConfirm(channel);
                return received;
            case MigrationFrameKind.GoPostCopy when store is not null:
                // The reader starts before the confirmation, so no page the source sends after it is missed.
                var postCopy = PostCopyReceiver.Start(channel, memory, store, header.VmName);
                try
                {
                    store.Send(MigrationFrameKind.Committed);
                }
                catch (MigrationException)
                {
                    // The receiver sees the break too and fails the post-copy with its reason.
                }
                return received with { PostCopy = postCopy };
            case MigrationFrameKind.Abort:
                throw new MigrationException($"the source cancelled the migration of VM '{header.VmName}': {System.Text.Encoding.UTF8.GetString(frame)}");
            default:
                throw new MigrationException($"the source sent a {kind} frame where the go-ahead for VM '{header.VmName}' was expected");
        }
    }

    // Best effort: a source that does not read the confirmation reports the migration as failed with the outcome open,
    // and does not run its copy again; this side runs the VM, which it has been told to.
    private static void TryConfirm(MigrationChannel channel)
    {
        try
        {
            channel.Write(MigrationFrameKind.Committed, ReadOnlySpan<byte>.Empty);
            channel.Flush();
        }
        catch (MigrationException)
        {
        }
    }

    private static RestoredGuestImage Image(MigrationHeader header) =>
        new(header.Image, header.VcpuCount, $"migrated VM {header.VmName}", header.Platform);

    // Loads the state frame into the shell built at the start (a restore from memory instead of files).
    private static void Load(MigrationChannel channel, MigrationHeader header, MachineParts parts, byte[] frame)
    {
        try
        {
            var state = MigratedState.Decode(frame);
            if (state.VcpuStates.Count != header.VcpuCount)
                throw new FormatException($"the state has {state.VcpuStates.Count} vCPUs, the header announced {header.VcpuCount}");
            SnapshotRestore.Load(parts, [.. state.VcpuStates.Select((s, i) => new SavedState($"vcpu {i}", () => s))],
                new SavedState("platform", () => state.PlatformState),
                [.. state.Devices.Select(d => new SavedState($"device {d.Name}", () => d.State, d.Name))],
                (origin, e) => new FormatException($"{origin}: {e.Message}", e));
        }
        catch (FormatException e)
        {
            throw Refuse(channel, $"the VM's state cannot be loaded here: {e.Message}");
        }
    }

    // Tells the source why (best effort) and returns the exception the target throws.
    private static MigrationException Refuse(MigrationChannel channel, string reason)
    {
        try
        {
            channel.Write(MigrationFrameKind.Refused, reason);
            channel.Flush();
        }
        catch (MigrationException)
        {
            // The source is gone; nothing to tell.
        }
        return new MigrationException($"migration refused: {reason}");
    }
}
