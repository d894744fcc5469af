using System.Numerics;

namespace Actorvisor.Hardware.Mmu;

/// <summary>
/// One bit per guest page of a memslot, in KVM's layout (KVM_GET_DIRTY_LOG): 64-bit words, bit
/// <c>i % 64</c> of word <c>i / 64</c> is page <c>i</c> of the slot. The software MMU fills it from its SPTEs;
/// the KVM accelerator fills it from KVM_GET_DIRTY_LOG, so snapshot and migration code reads one type.
/// Setting and clearing bits is atomic; whole-bitmap reads are not a snapshot unless the owner says so.
/// </summary>
public sealed class DirtyBitmap
{
    private readonly ulong[] _words;

    /// <summary>An all-clear bitmap for <paramref name="pages"/> pages.</summary>
    public DirtyBitmap(ulong pages)
    {
        if (pages > int.MaxValue * 64UL) throw new ArgumentOutOfRangeException(nameof(pages), $"{pages} pages is too large for a dirty bitmap");
        Pages = pages;
        _words = new ulong[WordsFor(pages)];
    }

    /// <summary>A bitmap for <paramref name="pages"/> pages over <paramref name="words"/> (taken, not copied), e.g. as KVM filled it.</summary>
    /// <exception cref="ArgumentException">the word count does not match the page count, or bits past the last page are set.</exception>
    public DirtyBitmap(ulong pages, ulong[] words)
    {
        ArgumentNullException.ThrowIfNull(words);
        if ((ulong)words.LongLength != WordsFor(pages))
            throw new ArgumentException($"a bitmap of {pages} pages needs {WordsFor(pages)} words, got {words.Length}", nameof(words));
        if (pages % 64 != 0 && (words[^1] & ~((1UL << (int)(pages % 64)) - 1)) != 0)
            throw new ArgumentException($"bits past page {pages - 1} are set", nameof(words));
        Pages = pages;
        _words = words;
    }

    /// <summary>Number of 64-bit words needed for <paramref name="pages"/> pages.</summary>
    public static ulong WordsFor(ulong pages) => (pages + 63) / 64;

    /// <summary>Number of pages the bitmap covers.</summary>
    public ulong Pages { get; }

    /// <summary>The words, KVM layout. Writing to them bypasses the atomic helpers.</summary>
    public Span<ulong> Words => _words;

    /// <summary>Number of words.</summary>
    public int WordCount => _words.Length;

    /// <summary>True if page <paramref name="page"/> is set.</summary>
    public bool IsSet(ulong page) => (Volatile.Read(ref _words[WordIndex(page)]) & Bit(page)) != 0;

    /// <summary>Atomically sets page <paramref name="page"/>; true if it was clear.</summary>
    public bool Set(ulong page) => (Interlocked.Or(ref _words[WordIndex(page)], Bit(page)) & Bit(page)) == 0;

    /// <summary>Atomically clears page <paramref name="page"/>; true if it was set.</summary>
    public bool Clear(ulong page) => (Interlocked.And(ref _words[WordIndex(page)], ~Bit(page)) & Bit(page)) != 0;

    /// <summary>Reads word <paramref name="word"/>.</summary>
    public ulong ReadWord(int word) => Volatile.Read(ref _words[word]);

    /// <summary>Atomically replaces word <paramref name="word"/> with <paramref name="value"/> and returns the old one.</summary>
    public ulong ExchangeWord(int word, ulong value) => Interlocked.Exchange(ref _words[word], value);

    /// <summary>Atomically sets the bits of <paramref name="bits"/> in word <paramref name="word"/>.</summary>
    public void OrWord(int word, ulong bits) => Interlocked.Or(ref _words[word], bits);

    /// <summary>Number of set pages.</summary>
    public ulong Count()
    {
        ulong n = 0;
        for (int w = 0; w < _words.Length; w++) n += (ulong)BitOperations.PopCount(Volatile.Read(ref _words[w]));
        return n;
    }

    /// <summary>The set pages in ascending order.</summary>
    public IEnumerable<ulong> SetPages()
    {
        for (int w = 0; w < _words.Length; w++)
        {
            ulong bits = Volatile.Read(ref _words[w]);
            while (bits != 0)
            {
                int b = BitOperations.TrailingZeroCount(bits);
                bits &= bits - 1;
                yield return (ulong)w * 64 + (ulong)b;
            }
        }
    }

    /// <summary>A copy of this bitmap.</summary>
    public DirtyBitmap Clone()
    {
        var copy = new DirtyBitmap(Pages);
        for (int w = 0; w < _words.Length; w++) copy._words[w] = Volatile.Read(ref _words[w]);
        return copy;
    }

    private int WordIndex(ulong page)
    {
        if (page >= Pages) throw new ArgumentOutOfRangeException(nameof(page), $"page {page} is outside a dirty bitmap of {Pages} pages");
        return (int)(page / 64);
    }

    private static ulong Bit(ulong page) => 1UL << (int)(page % 64);

    /// <inheritdoc />
    public override string ToString() => $"dirty bitmap: {Count()} of {Pages} pages";
}
