using Actorvisor.Hardware.Memory;
using Actorvisor.Hardware.Native;

namespace Actorvisor.Hardware.Tests.Native;

public sealed class VectoredIoTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("vectored-io").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private ConfinedFile Open(byte[] content, bool writable)
    {
        File.WriteAllBytes(Path.Combine(_directory, "f"), content);
        using var dir = ConfinedDirectory.Open(_directory);
        return dir.OpenFile("f", writable);
    }

    // More buffers than one call takes (IOV_MAX), of 1 to 7 bytes each, so the loop slices the list.
    private static HostBuffer[] Scatter(HostMemory memory, int count, out int total)
    {
        var buffers = new HostBuffer[count];
        long at = 0;
        for (int i = 0; i < count; i++)
        {
            int length = 1 + i % 7;
            buffers[i] = new HostBuffer(memory.Address + (nint)(at + 1), length); // a gap byte before each buffer
            at += length + 1;
        }
        total = (int)buffers.Sum(b => b.Length);
        return buffers;
    }

    [Fact]
    public void Reads_into_more_buffers_than_one_call_takes_in_order_and_stops_at_the_end_of_the_file()
    {
        using var memory = HostMemory.Allocate(1 << 16);
        var buffers = Scatter(memory, VectoredIo.MaxBuffersPerCall + 300, out int total);
        var content = new byte[total - 5]; // five bytes short: the read ends early
        new Random(3).NextBytes(content);
        using var file = Open(content, writable: false);
        memory.Span(0, 1 << 16).Fill(0xcc);
        long got = file.ReadAt(buffers, 0);
        Assert.Equal(content.Length, got);
        var gathered = buffers.SelectMany(b => memory.Span((ulong)(b.Address - memory.Address), (int)b.Length).ToArray()).ToArray();
        Assert.Equal(content, gathered[..content.Length]);
        Assert.All(gathered[content.Length..], x => Assert.Equal(0xcc, x)); // past the end: untouched
        Assert.Equal(0xcc, memory.Span(0, 1)[0]); // the gap bytes too
    }

    [Fact]
    public void Writes_every_buffer_at_the_offset()
    {
        using var memory = HostMemory.Allocate(1 << 16);
        var buffers = Scatter(memory, VectoredIo.MaxBuffersPerCall + 10, out int total);
        new Random(4).NextBytes(memory.Span(0, 1 << 16));
        using (var file = Open(new byte[100], writable: true)) file.WriteAt(buffers, 50);
        var written = File.ReadAllBytes(Path.Combine(_directory, "f"));
        var expected = buffers.SelectMany(b => memory.Span((ulong)(b.Address - memory.Address), (int)b.Length).ToArray()).ToArray();
        Assert.Equal(50 + total, written.Length);
        Assert.Equal(expected, written[50..]);
        Assert.All(written[..50], x => Assert.Equal(0, x));
    }

    [Fact]
    public void A_read_only_file_refuses_a_vectored_write_and_a_closed_one_any_read()
    {
        using var memory = HostMemory.Allocate(4096);
        using var file = Open(new byte[16], writable: false);
        Assert.Throws<InvalidOperationException>(() => file.WriteAt([new HostBuffer(memory.Address, 8)], 0));
        file.Dispose();
        Assert.Throws<ObjectDisposedException>(() => file.ReadAt([new HostBuffer(memory.Address, 8)], 0));
    }
}
