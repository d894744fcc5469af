namespace Actorvisor.Tests.Fuzz;

/// <summary>
/// Makes fuzz inputs from a corpus of valid seeds, with a seeded <see cref="Random"/> so that a run can be
/// repeated: most inputs are a seed with one to eight mutations (bit flips, interesting bytes and integers,
/// inserted, deleted or duplicated ranges, a splice with another seed, a truncation, a token from the
/// format's dictionary); one in sixteen is random bytes.
/// </summary>
public sealed class InputMutator
{
    private static readonly byte[] InterestingBytes = [0x00, 0x01, 0x7f, 0x80, 0xff, (byte)'"', (byte)'\\', (byte)'\n', (byte)':', (byte)'{', (byte)'['];
    private static readonly ulong[] InterestingIntegers = [0, 1, 0x7f, 0x80, 0xff, 0x7fff, 0x8000, 0xffff, 0x7fffffff, 0x80000000, 0xffffffff, 0x7fffffffffffffff, 0x8000000000000000, ulong.MaxValue];
    private readonly IReadOnlyList<byte[]> _seeds;
    private readonly IReadOnlyList<byte[]> _dictionary;
    private readonly Random _random;
    private readonly int _maxLength;

    /// <summary>A mutator over <paramref name="seeds"/> (at least one), inserting tokens from <paramref name="dictionary"/>, making inputs of at most <paramref name="maxLength"/> bytes.</summary>
    public InputMutator(IReadOnlyList<byte[]> seeds, int randomSeed, IReadOnlyList<byte[]>? dictionary = null, int maxLength = 1 << 16)
    {
        if (seeds.Count == 0) throw new ArgumentException("a fuzzer needs at least one seed", nameof(seeds));
        _seeds = seeds;
        _dictionary = dictionary ?? [];
        _random = new Random(randomSeed);
        _maxLength = maxLength;
    }

    /// <summary>The next input.</summary>
    public byte[] Next()
    {
        if (_random.Next(16) == 0)
        {
            var noise = new byte[_random.Next(0, 512)];
            _random.NextBytes(noise);
            return noise;
        }
        var data = new List<byte>(_seeds[_random.Next(_seeds.Count)]);
        int mutations = 1 + _random.Next(8);
        for (int i = 0; i < mutations; i++) Mutate(data);
        if (data.Count > _maxLength) data.RemoveRange(_maxLength, data.Count - _maxLength);
        return [.. data];
    }

    private void Mutate(List<byte> data)
    {
        int at = data.Count == 0 ? 0 : _random.Next(data.Count);
        switch (_random.Next(10))
        {
            case 0 when data.Count > 0:
                data[at] ^= (byte)(1 << _random.Next(8));
                break;
            case 1 when data.Count > 0:
                data[at] = InterestingBytes[_random.Next(InterestingBytes.Length)];
                break;
            case 2 when data.Count > 0:
                // An interesting integer, little-endian, of 2, 4 or 8 bytes, over what is there.
                var value = InterestingIntegers[_random.Next(InterestingIntegers.Length)];
                int width = 2 << _random.Next(3);
                for (int b = 0; b < width && at + b < data.Count; b++) data[at + b] = (byte)(value >> (8 * b));
                break;
            case 3:
                var inserted = new byte[1 + _random.Next(16)];
                _random.NextBytes(inserted);
                data.InsertRange(at, inserted);
                break;
            case 4 when data.Count > 0:
                data.RemoveRange(at, Math.Min(data.Count - at, 1 + _random.Next(32)));
                break;
            case 5 when data.Count > 0:
                int length = Math.Min(data.Count - at, 1 + _random.Next(64));
                var copy = data.GetRange(at, length);
                data.InsertRange(_random.Next(data.Count + 1), copy);
                break;
            case 6:
                var other = _seeds[_random.Next(_seeds.Count)];
                int from = _random.Next(other.Length + 1);
                var tail = other.AsSpan(from).ToArray();
                data.RemoveRange(at, data.Count - at);
                data.AddRange(tail);
                break;
            case 7 when data.Count > 0:
                data.RemoveRange(at, data.Count - at);
                break;
            case 8 when _dictionary.Count > 0:
                data.InsertRange(at, _dictionary[_random.Next(_dictionary.Count)]);
                break;
            case 9 when _dictionary.Count > 0 && data.Count > 0:
                var token = _dictionary[_random.Next(_dictionary.Count)];
                data.RemoveRange(at, Math.Min(data.Count - at, token.Length));
                data.InsertRange(at, token);
                break;
            default:
                data.Insert(at, InterestingBytes[_random.Next(InterestingBytes.Length)]);
                break;
        }
    }
}
