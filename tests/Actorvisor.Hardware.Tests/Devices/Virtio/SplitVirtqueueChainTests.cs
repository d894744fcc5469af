using System.Buffers.Binary;
using Actorvisor.Hardware.Devices.Virtio;
using Actorvisor.Hardware.Memory;

namespace Actorvisor.Hardware.Tests.Devices.Virtio;

/// <summary>
/// Long descriptor chains as a driver really lays them out: linked in any order across a large table. The device reads
/// the table a window of entries at a time; these tests pin down that every descriptor still comes back in chain order,
/// with the values the driver wrote for this chain (never an earlier chain's), and that windows stop at the table's end.
/// </summary>
public sealed class SplitVirtqueueChainTests : IDisposable
{
    private const ushort Size = 1024;
    private const ulong RamBytes = 4 << 20, Avail = 0x20000, Used = 0x21000, Buffers = 0x100000;
    // The descriptor table fills the end of guest RAM, so a read past its last entry would leave the slot.
    private const ulong Table = RamBytes - Size * SplitVirtqueue.DescriptorSize;
    private readonly HostMemory _ram = HostMemory.Allocate(RamBytes);
    private readonly SplitVirtqueue _queue;
    private ushort _availIdx;

    public SplitVirtqueueChainTests()
    {
        var memory = new GuestPhysicalMemory(MemslotSet.Of([new Memslot(0, 0, RamBytes, _ram.Address)]));
        _queue = new SplitVirtqueue(memory, Size) { Size = Size, DescriptorTable = Table, DriverArea = Avail, DeviceArea = Used };
        _queue.Enable();
    }

    public void Dispose() => _ram.Dispose();

    private void Descriptor(int index, ulong address, uint length, ushort flags, ushort next)
    {
        Span<byte> d = stackalloc byte[16];
        BinaryPrimitives.WriteUInt64LittleEndian(d, address);
        BinaryPrimitives.WriteUInt32LittleEndian(d[8..], length);
        BinaryPrimitives.WriteUInt16LittleEndian(d[12..], flags);
        BinaryPrimitives.WriteUInt16LittleEndian(d[14..], next);
        _ram.Write(Table + (ulong)index * 16, d);
    }

    private void MakeAvailable(ushort head)
    {
        _ram.Write(Avail + 4 + 2UL * (ulong)(_availIdx % Size), head);
        _availIdx++;
        _ram.Write(Avail + 2, _availIdx);
    }

    // Lays out a chain over table entries `indices` (in chain order): the first `readable` device-readable, the rest
    // device-writable, entry k at Buffers + seed * 0x10000 + k * 0x100, 16 + k bytes long. Returns what the device must see.
    private VirtqueueBuffer[] Chain(int[] indices, int readable, int seed)
    {
        var expected = new VirtqueueBuffer[indices.Length];
        for (int k = 0; k < indices.Length; k++)
        {
            bool writable = k >= readable;
            ulong address = Buffers + (ulong)seed * 0x10000 + (ulong)k * 0x100;
            uint length = 16 + (uint)k;
            bool last = k == indices.Length - 1;
            ushort flags = (ushort)((writable ? SplitVirtqueue.DescWrite : 0) | (last ? 0 : SplitVirtqueue.DescNext));
            Descriptor(indices[k], address, length, flags, last ? (ushort)0 : (ushort)indices[k + 1]);
            expected[k] = new VirtqueueBuffer(address, length, writable);
        }
        MakeAvailable((ushort)indices[0]);
        return expected;
    }

    private static void AssertChain(VirtqueueBuffer[] expected, int readable, DescriptorChain chain)
    {
        Assert.Equal(expected[..readable], chain.Readable);
        Assert.Equal(expected[readable..], chain.Writable);
        Assert.Equal(expected[..readable].Sum(b => (long)b.Length), chain.ReadableLength);
        Assert.Equal(expected[readable..].Sum(b => (long)b.Length), chain.WritableLength);
    }

    [Fact]
    public void A_chain_linked_in_random_order_across_the_whole_table_comes_back_in_chain_order()
    {
        var order = Enumerable.Range(0, Size).ToArray();
        new Random(19).Shuffle(order);
        var indices = order[..600];
        var expected = Chain(indices, readable: 100, seed: 1);

        Assert.True(_queue.TryTake(out var chain));
        Assert.Equal(indices[0], chain!.Head);
        AssertChain(expected, 100, chain);
    }

    [Fact]
    public void A_second_chain_over_the_same_entries_is_read_afresh()
    {
        var indices = Enumerable.Range(0, 300).ToArray(); // consecutive: each window serves 64 of them
        var first = Chain(indices, readable: 1, seed: 1);
        Assert.True(_queue.TryTake(out var one));
        AssertChain(first, 1, one!);

        // The driver reuses the same entries with other buffers, and the chain now runs backwards.
        Array.Reverse(indices);
        var second = Chain(indices, readable: 10, seed: 2);
        Assert.True(_queue.TryTake(out var two));
        AssertChain(second, 10, two!);
    }

    [Fact]
    public void A_chain_over_the_last_entries_of_the_table_is_read_up_to_its_end_and_no_further()
    {
        int[] indices = [Size - 3, Size - 2, Size - 1, 0, 1];
        var expected = Chain(indices, readable: 2, seed: 3);
        Assert.True(_queue.TryTake(out var chain));
        AssertChain(expected, 2, chain!);
    }

    [Fact]
    public void Mapping_part_of_a_long_chain_translates_exactly_the_buffers_it_covers()
    {
        var indices = Enumerable.Range(0, 258).ToArray();
        var expected = Chain(indices, readable: 1, seed: 4);
        Assert.True(_queue.TryTake(out var chain));
        // Skip 10 bytes of the first writable buffer and stop 3 bytes before the end: every other writable buffer whole.
        long length = chain!.WritableLength - 10 - 3;
        var mapped = chain.MapWritable(10, length);
        Assert.Equal(257, mapped.Length);
        Assert.Equal(_ram.Address + (nint)(expected[1].Address + 10), mapped[0].Address);
        Assert.Equal(expected[1].Length - 10, mapped[0].Length);
        Assert.Equal(expected[^1].Length - 3, mapped[^1].Length);
        Assert.Equal(length, mapped.Sum(b => b.Length));
        for (int k = 1; k < 256; k++) Assert.Equal(_ram.Address + (nint)expected[1 + k].Address, mapped[k].Address);
    }
}
