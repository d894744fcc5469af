using Actorvisor.Host.Scenarios.Language;
using YamlDotNet.RepresentationModel;

namespace Actorvisor.Host.Scenarios.Parsing;

/// <summary>
/// One step as written (<c>- keyword: value</c>), handed to its kind's parser: the value, where it was written,
/// the parse context errors go to, and the step's <c>timeout</c> once <see cref="Fields"/> has read it.
/// </summary>
internal sealed class StepSyntax(string keyword, YamlNode value, SourceLocation at, ParseContext context, Func<YamlSequenceNode, string, List<Step>> readSteps)
{
    /// <summary>The keyword the step was written with.</summary>
    public string Keyword { get; } = keyword;

    /// <summary>The keyword's value: a scalar, a mapping or a sequence.</summary>
    public YamlNode Value { get; } = value;

    /// <summary>Where the keyword was written (the step's location).</summary>
    public SourceLocation At { get; } = at;

    /// <summary>Where errors are reported.</summary>
    public ParseContext Context { get; } = context;

    /// <summary>The step's own timeout, if its mapping gave one.</summary>
    public TimeSpan? Timeout { get; private set; }

    /// <summary>The value as a mapping with <paramref name="keys"/> and <c>timeout</c> (which it reads); null after an error.</summary>
    public Fields? Fields(params string[] keys)
    {
        var fields = Parsing.Fields.Of(Value, Keyword, Context, [.. keys, "timeout"]);
        if (fields is not null) Timeout = fields.Duration("timeout");
        return fields;
    }

    /// <summary>Reports <paramref name="message"/> at the value.</summary>
    public void Error(string message) => Context.Error(Value, message);

    /// <summary>Reads the steps of <paramref name="list"/>, the body of this step.</summary>
    public IReadOnlyList<Step> ReadSteps(YamlSequenceNode list) => readSteps(list, Keyword);
}
