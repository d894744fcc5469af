using System.Buffers.Binary;
using Actorvisor.Hardware.Native;

namespace Actorvisor.Hardware.Migration;

/// <summary>The target's side of <see cref="PageBatchWriter"/>: takes a batch apart, page by page.</summary>
public static class PageBatchReader
{
    /// <summary>One page of a batch: its memslot, its index, and its 4096 bytes (empty for a zero page).</summary>
    public delegate void PageEntry(uint slot, ulong page, ReadOnlySpan<byte> content);

    /// <summary>
    /// Calls <paramref name="onPage"/> for each page of a <see cref="MigrationFrameKind.Pages"/> body, in order, after
    /// checking it lies inside its memslot (<paramref name="pageCountOf"/>(slot): the slot's pages, or null if the header
    /// did not announce it); returns the number of pages.
    /// </summary>
    /// <exception cref="MigrationException">the body is malformed, names an unknown slot or a page outside it.</exception>
    public static int ForEach(ReadOnlySpan<byte> body, Func<uint, ulong?> pageCountOf, PageEntry onPage)
    {
        ArgumentNullException.ThrowIfNull(pageCountOf);
        ArgumentNullException.ThrowIfNull(onPage);
        if (body.Length < PageBatchWriter.BodyHeaderBytes) throw new MigrationException($"a page batch of {body.Length} bytes has no header");
        uint slot = BinaryPrimitives.ReadUInt32LittleEndian(body);
        int count = (int)Math.Min(BinaryPrimitives.ReadUInt32LittleEndian(body[4..]), int.MaxValue);
        ulong pages = pageCountOf(slot) ?? throw new MigrationException($"a page batch names memslot {slot}, which the header did not announce");
        int at = PageBatchWriter.BodyHeaderBytes;
        for (int i = 0; i < count; i++)
        {
            if (body.Length - at < 8) throw new MigrationException($"a page batch of memslot {slot} ends after {i} of its {count} pages");
            ulong entry = BinaryPrimitives.ReadUInt64LittleEndian(body[at..]);
            at += 8;
            ulong page = entry >> 1;
            if (page >= pages) throw new MigrationException($"a page batch names page {page} of memslot {slot}, which has {pages}");
            if ((entry & 1) != 0)
            {
                onPage(slot, page, ReadOnlySpan<byte>.Empty);
                continue;
            }
            if (body.Length - at < (int)PageSize.Bytes) throw new MigrationException($"a page batch of memslot {slot} ends inside page {page}");
            onPage(slot, page, body.Slice(at, (int)PageSize.Bytes));
            at += (int)PageSize.Bytes;
        }
        if (at != body.Length) throw new MigrationException($"a page batch of memslot {slot} has {body.Length - at} bytes after its {count} pages");
        return count;
    }
}
