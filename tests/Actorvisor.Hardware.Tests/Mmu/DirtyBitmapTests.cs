using Actorvisor.Hardware.Mmu;

namespace Actorvisor.Hardware.Tests.Mmu;

public class DirtyBitmapTests
{
    [Fact]
    public void Layout_is_kvms_one_bit_per_page_in_64_bit_words()
    {
        var b = new DirtyBitmap(130);
        Assert.Equal(3, b.WordCount);
        Assert.True(b.Set(65));
        Assert.True(b.Set(0));
        Assert.Equal(1UL << 1, b.Words[1]);
        Assert.Equal(1UL, b.Words[0]);
        Assert.Equal([0UL, 65UL], b.SetPages());
        Assert.Equal(2UL, b.Count());
    }

    [Fact]
    public void Set_and_clear_say_whether_they_changed_the_bit()
    {
        var b = new DirtyBitmap(64);
        Assert.True(b.Set(5));
        Assert.False(b.Set(5));
        Assert.True(b.Clear(5));
        Assert.False(b.Clear(5));
        Assert.False(b.IsSet(5));
    }

    [Fact]
    public void Words_from_kvm_are_validated()
    {
        Assert.Equal("words", Assert.Throws<ArgumentException>(() => new DirtyBitmap(65, new ulong[1])).ParamName);
        Assert.Equal("words", Assert.Throws<ArgumentException>(() => new DirtyBitmap(3, [0b1000UL])).ParamName);
        var b = new DirtyBitmap(3, [0b101UL]);
        Assert.Equal([0UL, 2UL], b.SetPages());
    }

    [Fact]
    public void Page_outside_the_bitmap_is_refused()
    {
        var b = new DirtyBitmap(10);
        Assert.Equal("page", Assert.Throws<ArgumentOutOfRangeException>(() => b.Set(10)).ParamName);
    }

    [Fact]
    public void Concurrent_sets_are_not_lost()
    {
        var b = new DirtyBitmap(64 * 4);
        Parallel.For(0, 4, t => { for (ulong p = (ulong)t; p < 256; p += 4) b.Set(p); });
        Assert.Equal(256UL, b.Count());
    }
}
