using System.Buffers.Binary;
using Actorvisor.Hardware.Lazy;
using Actorvisor.Hardware.Memory;
using Actorvisor.Hardware.Native;
using Actorvisor.Hardware.Snapshots;

namespace Actorvisor.Hardware.Migration;

/// <summary>
/// The guest memory a migration target fills: one mapping per memslot of the header; memslot 0 is userfaultfd-lazy
/// memory when the migration may end by post-copy, so that the pages it lacks at the switchover fault to the source.
/// Before the switchover a page batch overwrites what a lazy page holds (a later round's copy is newer) or installs a
/// missing one; after it, a batch only fills holes (UFFDIO_COPY never replaces a present page, so a pushed copy never
/// undoes a write the guest made here). It releases its mappings until the machine built over them owns them.
/// </summary>
public sealed class MigrationTargetMemory : IDisposable
{
    private readonly Dictionary<uint, HostMemory> _plain = [];
    private readonly List<SnapshotMemoryRegion> _regions = [];
    private bool _handedOver;

    private MigrationTargetMemory(LazyGuestMemory? lazy) => Lazy = lazy;

    /// <summary>Memslot 0 as lazy memory, when the migration may end by post-copy.</summary>
    public LazyGuestMemory? Lazy { get; }

    /// <summary>The regions, memslot 0 first (its lazy memory and store set when lazy).</summary>
    public IReadOnlyList<SnapshotMemoryRegion> Regions => _regions;

    /// <summary>Pages a post-copy batch brought that were present already (not written: the target's copy is newer or the same).</summary>
    public long StalePages => Interlocked.Read(ref _stale);

    private long _stale;

    /// <summary>
    /// Allocates <paramref name="header"/>'s layout; memslot 0 lazy with faults to <paramref name="lazyFaults"/> over
    /// <paramref name="store"/> when both are given.
    /// </summary>
    /// <exception cref="MigrationException">a memslot is announced twice.</exception>
    public static MigrationTargetMemory Allocate(MigrationHeader header, IPageFaultSink? lazyFaults = null, IBackingStore? store = null)
    {
        ArgumentNullException.ThrowIfNull(header);
        LazyGuestMemory? lazy = lazyFaults is null ? null : LazyGuestMemory.Create(header.Memory[0].Size, lazyFaults, name: "migrated-guest-ram");
        var memory = new MigrationTargetMemory(lazy);
        try
        {
            foreach (var region in header.Memory)
            {
                if (memory._regions.Any(r => r.Slot == region.Slot)) throw new MigrationException($"memslot {region.Slot} is announced twice");
                if (lazy is not null && region.Slot == 0)
                {
                    memory._regions.Add(new SnapshotMemoryRegion(0, region.GuestPhysicalAddress, lazy.Memory, lazy, store));
                    continue;
                }
                var plain = HostMemory.Allocate(region.Size, name: region.Slot == 0 ? "guest-ram" : $"guest-ram-slot{region.Slot}");
                memory._plain[region.Slot] = plain;
                memory._regions.Add(new SnapshotMemoryRegion(region.Slot, region.GuestPhysicalAddress, plain));
            }
            return memory;
        }
        catch
        {
            memory.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Applies a <see cref="MigrationFrameKind.Pages"/> body. Before the switchover (<paramref name="holesOnly"/> false) each
    /// page replaces what is there; after it only missing pages are installed. <paramref name="arrived"/> is called for
    /// each page of the lazy memslot after its install (present now, whoever installed it). Returns the page count.
    /// </summary>
    /// <exception cref="MigrationException">the body is malformed or names a page outside the layout.</exception>
    public int Apply(ReadOnlySpan<byte> body, bool holesOnly, PageBatchReader.PageEntry? arrived = null) =>
        PageBatchReader.ForEach(body, slot => _regions.FirstOrDefault(r => r.Slot == slot)?.PageCount, (slot, page, content) =>
        {
            if (Lazy is { } lazy && slot == 0)
            {
                Install(lazy, page, content, holesOnly);
                arrived?.Invoke(slot, page, content);
                return;
            }
            var target = _plain[slot].Span(page << PageSize.Shift, (int)PageSize.Bytes);
            if (content.IsEmpty) target.Clear();
            else content.CopyTo(target);
        });

    private void Install(LazyGuestMemory lazy, ulong page, ReadOnlySpan<byte> content, bool holesOnly)
    {
        // Before the switchover nothing runs on this memory: a present page is overwritten through the mapping.
        if (!holesOnly && lazy.IsPresent(page))
        {
            var target = lazy.Memory.Span(page << PageSize.Shift, (int)PageSize.Bytes);
            if (content.IsEmpty) target.Clear();
            else content.CopyTo(target);
            return;
        }
        var result = content.IsEmpty ? lazy.TryInstallZero(page) : lazy.TryInstall(page, content);
        if (result == PageInstall.AlreadyPresent) Interlocked.Increment(ref _stale);
    }

    /// <summary>
    /// Applies a <see cref="MigrationFrameKind.Discard"/> body (before the switchover): the listed pages of the lazy memslot
    /// go missing again, consecutive pages as one run and up to <see cref="BulkDontNeed.RangesPerCall"/> runs a system
    /// call. Returns the page count.
    /// </summary>
    /// <exception cref="MigrationException">no memslot is lazy, or the body is malformed or names a page outside it.</exception>
    public int Discard(ReadOnlySpan<byte> body)
    {
        var lazy = Lazy ?? throw new MigrationException("the source discarded pages of a migration that cannot end by post-copy");
        if (body.Length < 8) throw new MigrationException($"a discard list of {body.Length} bytes has no header");
        uint slot = BinaryPrimitives.ReadUInt32LittleEndian(body);
        uint count = BinaryPrimitives.ReadUInt32LittleEndian(body[4..]);
        if (slot != 0) throw new MigrationException($"a discard list names memslot {slot}; only memslot 0 is lazy");
        if ((ulong)body.Length != 8 + 8UL * count) throw new MigrationException($"a discard list of {count} pages is {body.Length} bytes");
        var runs = new List<(ulong FirstPage, ulong Count)>();
        for (int i = 0; i < count; i++)
        {
            ulong page = BinaryPrimitives.ReadUInt64LittleEndian(body[(8 + 8 * i)..]);
            if (page >= lazy.PageCount) throw new MigrationException($"a discard list names page {page} of memslot 0, which has {lazy.PageCount}");
            if (runs.Count > 0 && runs[^1] is var (first, length) && page == first + length) runs[^1] = (first, length + 1);
            else runs.Add((page, 1));
        }
        DiscardCalls += lazy.Discard(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(runs));
        return (int)count;
    }

    /// <summary>System calls the discards took so far (a run of pages, or up to <see cref="BulkDontNeed.RangesPerCall"/> runs, each).</summary>
    public long DiscardCalls { get; private set; }

    /// <summary>The machine built over the memory owns it from now on: <see cref="Dispose"/> releases nothing.</summary>
    public void HandOver() => _handedOver = true;

    /// <summary>Releases the mappings, unless they were handed over.</summary>
    public void Dispose()
    {
        if (_handedOver) return;
        _handedOver = true;
        Lazy?.Dispose();
        foreach (var memory in _plain.Values) memory.Dispose();
    }
}
