using Actorvisor.Host.Scenarios.Language;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Actorvisor.Host.Scenarios.Parsing;

/// <summary>The file being read and the errors found so far (reading goes on after an error to report them all).</summary>
internal sealed class ParseContext(string file)
{
    private readonly List<ScenarioError> _errors = [];

    /// <summary>The file's display name.</summary>
    public string File { get; } = file;

    /// <summary>Errors in the order found.</summary>
    public IReadOnlyList<ScenarioError> Errors => _errors;

    /// <summary>The location of <paramref name="mark"/>.</summary>
    public SourceLocation At(Mark mark) => new(File, (int)Math.Max(1, mark.Line), (int)Math.Max(1, mark.Column));

    /// <summary>The location where <paramref name="node"/> starts.</summary>
    public SourceLocation At(YamlNode node) => At(node.Start);

    /// <summary>Records an error at <paramref name="location"/>.</summary>
    public void Error(SourceLocation location, string message) => _errors.Add(new ScenarioError(location, message));

    /// <summary>Records an error where <paramref name="node"/> starts.</summary>
    public void Error(YamlNode node, string message) => Error(At(node), message);
}
