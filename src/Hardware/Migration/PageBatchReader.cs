using System.Buffers.Binary;
using Actorvisor.Hardware.Native;

namespace Actorvisor.Hardware.Migration;

/// <summary>The target's side of <see cref="PageBatchWriter"/>: puts a batch's pages into guest memory.</summary>
public static class PageBatchReader
{
    /// <summary>
    /// Writes the pages of a <see cref="MigrationFrameKind.Pages"/> body into <paramref name="memoryOf"/>(slot) (the
    /// target's side); returns the number of pages.
    /// </summary>
    /// <exception cref="MigrationException">the body is malformed, names an unknown slot or a page outside it.</exception>
    public static int Apply(ReadOnlySpan<byte> body, Func<uint, Memory.HostMemory?> memoryOf)
    {
        ArgumentNullException.ThrowIfNull(memoryOf);
        if (body.Length < PageBatchWriter.BodyHeaderBytes) throw new MigrationException($"a page batch of {body.Length} bytes has no header");
        uint slot = BinaryPrimitives.ReadUInt32LittleEndian(body);
        int count = (int)Math.Min(BinaryPrimitives.ReadUInt32LittleEndian(body[4..]), int.MaxValue);
        var memory = memoryOf(slot) ?? throw new MigrationException($"a page batch names memslot {slot}, which the header did not announce");
        ulong pages = memory.Size >> PageSize.Shift;
        int at = PageBatchWriter.BodyHeaderBytes;
        for (int i = 0; i < count; i++)
        {
            if (body.Length - at < 8) throw new MigrationException($"a page batch of memslot {slot} ends after {i} of its {count} pages");
            ulong entry = BinaryPrimitives.ReadUInt64LittleEndian(body[at..]);
            at += 8;
            ulong page = entry >> 1;
            if (page >= pages) throw new MigrationException($"a page batch names page {page} of memslot {slot}, which has {pages}");
            var target = memory.Span(page << PageSize.Shift, (int)PageSize.Bytes);
            if ((entry & 1) != 0)
            {
                target.Clear();
                continue;
            }
            if (body.Length - at < (int)PageSize.Bytes) throw new MigrationException($"a page batch of memslot {slot} ends inside page {page}");
            body.Slice(at, (int)PageSize.Bytes).CopyTo(target);
            at += (int)PageSize.Bytes;
        }
        if (at != body.Length) throw new MigrationException($"a page batch of memslot {slot} has {body.Length - at} bytes after its {count} pages");
        return count;
    }
}
