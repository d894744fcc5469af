using Actorvisor.Hardware.Accel;
using Actorvisor.Hardware.Devices;
using Actorvisor.Hardware.Machines;
using Actorvisor.Hardware.Memory;
using Actorvisor.Hardware.Snapshots;

namespace Actorvisor.Hardware.Migration;

/// <summary>
/// The target side of a live migration over a <see cref="MigrationChannel"/>: reads the header and refuses it (another
/// protocol version, another accelerator kind, or whatever <c>admit</c> refuses, e.g. no room) or accepts it and
/// allocates the VM's memory; writes the page batches into it as they come; on the state frame builds the machine with
/// <see cref="SnapshotRestore.Assemble"/> (a restore from memory instead of files), tells the source it is ready, and
/// returns the machine once the source says go. A refusal is sent to the source with its reason; any failure releases
/// what was allocated.
/// </summary>
public static class MigrationTarget
{
    /// <summary>
    /// Receives one VM on <paramref name="accelerator"/> from <paramref name="channel"/> (not disposed here). The VM's
    /// serial output goes to <paramref name="console"/>. <paramref name="admit"/> sees the header and returns a reason to
    /// refuse, or null.
    /// </summary>
    /// <exception cref="MigrationException">the migration was refused, cancelled by the source, or the stream broke or was malformed.</exception>
    public static MigrationReceived Receive(IAccelerator accelerator, MigrationChannel channel, IConsoleSink console,
        Func<MigrationHeader, string?>? admit = null)
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

        var memories = new Dictionary<uint, HostMemory>();
        MachineParts? parts = null;
        try
        {
            foreach (var region in header.Memory)
            {
                if (memories.ContainsKey(region.Slot)) throw Refuse(channel, $"memslot {region.Slot} is announced twice");
                memories[region.Slot] = HostMemory.Allocate(region.Size, name: region.Slot == 0 ? "guest-ram" : $"guest-ram-slot{region.Slot}");
            }
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
                        pages += PageBatchReader.Apply(frame, slot => memories.GetValueOrDefault(slot));
                        break;
                    case MigrationFrameKind.RoundEnd:
                        rounds++;
                        break;
                    case MigrationFrameKind.State:
                        parts = Build(accelerator, channel, console, header, memories, frame);
                        channel.Write(MigrationFrameKind.Ready, ReadOnlySpan<byte>.Empty);
                        channel.Expect(MigrationFrameKind.Go, "source");
                        return new MigrationReceived(header, parts, rounds, pages);
                    case MigrationFrameKind.Abort:
                        throw new MigrationException($"the source cancelled the migration of VM '{header.VmName}': {System.Text.Encoding.UTF8.GetString(frame)}");
                    default:
                        throw new MigrationException($"the source sent a {kind} frame during the page stream of VM '{header.VmName}'");
                }
            }
        }
        catch
        {
            if (parts is not null) parts.Dispose();
            else foreach (var memory in memories.Values) memory.Dispose();
            throw;
        }
    }

    private static MachineParts Build(IAccelerator accelerator, MigrationChannel channel, IConsoleSink console, MigrationHeader header,
        Dictionary<uint, HostMemory> memories, byte[] frame)
    {
        try
        {
            var state = MigratedState.Decode(frame);
            if (state.VcpuStates.Count != header.VcpuCount)
                throw new FormatException($"the state has {state.VcpuStates.Count} vCPUs, the header announced {header.VcpuCount}");
            var regions = header.Memory.Select(r => new SnapshotMemoryRegion(r.Slot, r.GuestPhysicalAddress, memories[r.Slot])).ToList();
            var image = new RestoredGuestImage(header.Image, header.VcpuCount, $"migrated VM {header.VmName}");
            return SnapshotRestore.Assemble(accelerator, regions, null, image, console, [.. regions.Skip(1).Select(r => r.Memory)],
                [.. state.VcpuStates.Select((s, i) => new SavedState($"vcpu {i}", () => s))],
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
