using Actorvisor.Hardware.Memory;

namespace Actorvisor.Hardware.Tests.Memory;

public class MemslotSetTests
{
    private static Memslot Slot(uint id, ulong gpa, ulong size, MemslotFlags flags = MemslotFlags.None) =>
        new(id, gpa, size, (nint)(0x7f00_0000_0000L + (long)gpa), flags);

    [Fact]
    public void Zero_sized_slot_is_rejected()
    {
        var e = Assert.Throws<MemslotException>(() => Slot(1, 0x1000, 0));
        Assert.Contains("size must be greater than zero", e.Message);
    }

    [Theory]
    [InlineData(0x1001UL, 0x1000UL, "guest physical address 0x1001")]
    [InlineData(0x1000UL, 0x1800UL, "size 0x1800")]
    public void Misaligned_slot_is_rejected(ulong gpa, ulong size, string expected)
    {
        var e = Assert.Throws<MemslotException>(() => Slot(1, gpa, size));
        Assert.Contains(expected, e.Message);
        Assert.Contains("4 KiB", e.Message);
    }

    [Fact]
    public void Misaligned_host_address_is_rejected()
    {
        var e = Assert.Throws<MemslotException>(() => new Memslot(3, 0, 0x1000, unchecked((nint)0x7f00_0000_0010L)));
        Assert.Contains("host address", e.Message);
    }

    [Fact]
    public void Overlapping_slots_are_rejected_naming_both()
    {
        var set = MemslotSet.Empty.With(Slot(0, 0x0, 0x10000));
        var e = Assert.Throws<MemslotException>(() => set.With(Slot(1, 0xf000, 0x2000)));
        Assert.Contains("memslot 1", e.Message);
        Assert.Contains("memslot 0", e.Message);
        Assert.Contains("overlaps", e.Message);
    }

    [Fact]
    public void Adjacent_slots_do_not_overlap()
    {
        var set = MemslotSet.Of([Slot(0, 0x0, 0x10000), Slot(1, 0x10000, 0x1000)]);
        Assert.Equal(2, set.Count);
    }

    [Fact]
    public void Lookup_finds_the_slot_containing_an_address_and_nothing_in_gaps()
    {
        var set = MemslotSet.Of([Slot(2, 0x100000, 0x1000), Slot(0, 0x0, 0xa0000), Slot(1, 0xc0000, 0x20000)]);
        Assert.Equal([0u, 1u, 2u], set.Slots.Select(s => s.Slot));
        Assert.Equal(0u, set.Find(0)!.Slot);
        Assert.Equal(0u, set.Find(0x9ffff)!.Slot);
        Assert.Null(set.Find(0xa0000));
        Assert.Equal(1u, set.Find(0xdffff)!.Slot);
        Assert.Null(set.Find(0xe0000));
        Assert.Equal(2u, set.Find(0x100fff)!.Slot);
        Assert.Null(set.Find(0x101000));
    }

    [Fact]
    public void Lookup_agrees_with_a_linear_scan_on_many_slots()
    {
        var rng = new Random(42);
        var slots = Enumerable.Range(0, 300).Select(i => Slot((uint)i, (ulong)i * 0x10000, (ulong)rng.Next(1, 16) * 0x1000)).ToArray();
        var set = MemslotSet.Of(slots.OrderBy(_ => rng.Next()));
        for (int i = 0; i < 5000; i++)
        {
            ulong gpa = (ulong)rng.NextInt64(0, 300L * 0x10000);
            var expected = slots.FirstOrDefault(s => s.Contains(gpa));
            Assert.Equal(expected?.Slot, set.Find(gpa)?.Slot);
        }
    }

    [Fact]
    public void Replacing_a_slot_by_id_moves_it_and_deleting_removes_it()
    {
        var set = MemslotSet.Of([Slot(0, 0x0, 0x10000), Slot(1, 0x20000, 0x1000)]);
        var moved = set.With(Slot(1, 0x40000, 0x2000));
        Assert.Null(moved.Find(0x20000));
        Assert.Equal(1u, moved.Find(0x41000)!.Slot);
        Assert.True(moved.Generation > set.Generation);
        var deleted = moved.Without(1);
        Assert.Null(deleted.Find(0x40000));
        Assert.Equal(1, deleted.Count);
        Assert.Equal(2, set.Count); // snapshots are immutable
    }

    [Fact]
    public void Deleting_an_unknown_slot_is_a_clear_error()
    {
        var e = Assert.Throws<MemslotException>(() => MemslotSet.Empty.Without(7));
        Assert.Contains("memslot 7 does not exist", e.Message);
    }

    [Fact]
    public void Translate_requires_the_whole_access_inside_one_slot()
    {
        var set = MemslotSet.Of([Slot(0, 0x0, 0x2000)]);
        Assert.True(set.TryTranslate(0x1ffc, 4, out var host, out _));
        Assert.Equal(unchecked((nint)0x7f00_0000_1ffcL), host);
        Assert.False(set.TryTranslate(0x1ffe, 4, out _, out _));
    }
}
