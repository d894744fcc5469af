using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Actorvisor.Host.Scenarios.Parsing;

/// <summary>Loads the YAML of a scenario file into a node tree, turning syntax errors into located errors.</summary>
internal static class YamlText
{
    /// <summary>The root node of the single document in <paramref name="text"/>, or null after recording why not.</summary>
    public static YamlNode? Load(string text, ParseContext context)
    {
        var parser = new PositionTrackingParser(new Parser(new StringReader(text)));
        var stream = new YamlStream();
        try
        {
            stream.Load(parser);
        }
        catch (YamlException e)
        {
            context.Error(context.At(e.Start), $"YAML syntax error: {Describe(e)}");
            return null;
        }
        catch (InvalidOperationException)
        {
            // YamlDotNet's scanner throws this without a position when the input ends inside a flow collection.
            context.Error(context.At(parser.LastEnd), "YAML syntax error: the file ends inside an unclosed '[', '{' or quote");
            return null;
        }
        catch (ArgumentException)
        {
            // YamlDotNet's node loader throws this for an event it does not expect, e.g. after an alias right behind a
            // flow collection ("a: { b: 1 }*c:"); found by the fuzz test.
            context.Error(context.At(parser.LastEnd), "YAML syntax error: the structure breaks off at or before this point (a stray alias '*', anchor '&' or tag '!' after a value?)");
            return null;
        }
        switch (stream.Documents.Count)
        {
            case 0:
                context.Error(new Language.SourceLocation(context.File, 1, 1), "the file is empty: a scenario needs at least 'steps'");
                return null;
            case > 1:
                context.Error(context.At(stream.Documents[1].RootNode), "a scenario file holds one YAML document; remove the second '---'");
                return null;
            default:
                return stream.Documents[0].RootNode;
        }
    }

    private static string Describe(YamlException e)
    {
        var message = e.Message.Trim();
        // Duplicate keys are reported by YamlDotNet as "Duplicate key NAME".
        if (message.StartsWith("Duplicate key ", StringComparison.Ordinal))
            return $"the key '{message["Duplicate key ".Length..]}' appears twice in the same mapping";
        if (e is AnchorNotFoundException) return message.Replace("does not exists", "is not defined", StringComparison.Ordinal);
        return message;
    }
}
