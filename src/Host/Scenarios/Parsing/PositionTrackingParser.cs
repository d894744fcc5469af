using YamlDotNet.Core;
using YamlDotNet.Core.Events;

namespace Actorvisor.Host.Scenarios.Parsing;

/// <summary>
/// Passes YamlDotNet's parser through, remembering where the last event ended, so that a failure the parser
/// reports without a position (an unterminated flow collection at the end of the file throws a bare
/// InvalidOperationException) can still be placed in the file.
/// </summary>
internal sealed class PositionTrackingParser(IParser inner) : IParser
{
    /// <summary>Where the last event the parser produced ended (1:1 before any).</summary>
    public Mark LastEnd { get; private set; } = new(0, 1, 1);

    /// <inheritdoc />
    public ParsingEvent? Current => inner.Current;

    /// <inheritdoc />
    public bool MoveNext()
    {
        bool moved = inner.MoveNext();
        if (inner.Current is { } e) LastEnd = e.End;
        return moved;
    }
}
