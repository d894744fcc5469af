namespace Actorvisor.Host.Scenarios.Language;

/// <summary>Where something was written: a file and a 1-based line and column.</summary>
/// <param name="File">The scenario file as it was named on the command line (or a label for in-memory text).</param>
/// <param name="Line">1-based line.</param>
/// <param name="Column">1-based column.</param>
public sealed record SourceLocation(string File, int Line, int Column)
{
    /// <summary>"file:line:column", the form compilers use so editors can jump to it.</summary>
    public override string ToString() => $"{File}:{Line}:{Column}";
}
