namespace Actorvisor.Host.Node;

/// <summary>The last <see cref="Capacity"/> bytes a guest printed, replayed to each new console subscriber.</summary>
public sealed class ConsoleBacklog
{
    /// <summary>The bytes kept per VM.</summary>
    public const int Capacity = 64 * 1024;

    private readonly LinkedList<byte[]> _chunks = new();
    private int _length;

    /// <summary>Bytes held now.</summary>
    public int Length => _length;

    /// <summary>Appends <paramref name="bytes"/>, dropping the oldest bytes beyond <see cref="Capacity"/>.</summary>
    public void Append(byte[] bytes)
    {
        if (bytes.Length == 0) return;
        if (bytes.Length >= Capacity)
        {
            _chunks.Clear();
            _chunks.AddLast(bytes[^Capacity..]);
            _length = Capacity;
            return;
        }
        _chunks.AddLast(bytes);
        _length += bytes.Length;
        while (_length > Capacity)
        {
            var head = _chunks.First!.Value;
            int excess = _length - Capacity;
            if (head.Length <= excess)
            {
                _chunks.RemoveFirst();
                _length -= head.Length;
            }
            else
            {
                _chunks.First.Value = head[excess..];
                _length -= excess;
            }
        }
    }

    /// <summary>Everything held, oldest first.</summary>
    public byte[] ToArray()
    {
        var all = new byte[_length];
        int at = 0;
        foreach (var c in _chunks)
        {
            c.CopyTo(all, at);
            at += c.Length;
        }
        return all;
    }
}
