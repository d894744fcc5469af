using Actorvisor.Host.Cli;
using Actorvisor.Host.Scenarios.Language;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Actorvisor.Host.Scenarios.Parsing;

/// <summary>
/// Reads the fields of one YAML mapping (a VM, a node, a step's parameters) with typed accessors. Every
/// problem (unknown key, wrong type, missing field, value out of range) is recorded at the offending node,
/// naming <see cref="What"/> and the key, and the accessor returns null so reading can go on.
/// </summary>
internal sealed class Fields
{
    private readonly ParseContext _context;
    private readonly Dictionary<string, (YamlScalarNode Key, YamlNode Value)> _entries = new(StringComparer.Ordinal);

    private Fields(ParseContext context, YamlMappingNode mapping, string what)
    {
        _context = context;
        Mapping = mapping;
        What = what;
    }

    /// <summary>The mapping read.</summary>
    public YamlMappingNode Mapping { get; }

    /// <summary>What the mapping is, for messages ("vm 'web'", "wait-for-serial").</summary>
    public string What { get; }

    /// <summary>
    /// The fields of <paramref name="node"/>, which must be a mapping whose keys are all in <paramref name="allowed"/>;
    /// null (after recording the error) if it is not a mapping.
    /// </summary>
    public static Fields? Of(YamlNode node, string what, ParseContext context, params string[] allowed)
    {
        if (node is not YamlMappingNode mapping)
        {
            context.Error(node, $"{what}: expected a mapping of keys to values ({string.Join(", ", allowed)}), got {Describe(node)}");
            return null;
        }
        var fields = new Fields(context, mapping, what);
        foreach (var (keyNode, value) in mapping.Children)
        {
            if (keyNode is not YamlScalarNode { Value: { } key } scalarKey)
            {
                context.Error(keyNode, $"{what}: keys must be plain words, got {Describe(keyNode)}");
                continue;
            }
            if (!allowed.Contains(key, StringComparer.Ordinal))
            {
                context.Error(keyNode, $"{what}: unknown key '{key}'{Suggestions.DidYouMean(key, allowed)}; expected one of: {string.Join(", ", allowed)}");
                continue;
            }
            fields._entries[key] = (scalarKey, value);
        }
        return fields;
    }

    /// <summary>"a sequence", "a mapping", "'text'", "nothing": how a node reads in a message.</summary>
    public static string Describe(YamlNode node) => node switch
    {
        YamlScalarNode s when IsNull(s) => "nothing (null)",
        YamlScalarNode s => $"'{s.Value}'",
        YamlSequenceNode => "a sequence",
        YamlMappingNode => "a mapping",
        _ => "an alias",
    };

    /// <summary>True for ~, null and empty plain scalars.</summary>
    public static bool IsNull(YamlScalarNode s) =>
        s.Style is ScalarStyle.Plain or ScalarStyle.Any && (s.Value is null || s.Value is "" or "~" or "null" or "Null" or "NULL");

    /// <summary>The text of <paramref name="key"/> in <paramref name="node"/> if it is a mapping holding that key as text, else null (no errors: for naming things in messages).</summary>
    public static string? Peek(YamlNode node, string key) =>
        node is YamlMappingNode m
            ? m.Children.Where(c => c.Key is YamlScalarNode { Value: { } k } && k == key).Select(c => c.Value).OfType<YamlScalarNode>().FirstOrDefault(s => !IsNull(s))?.Value?.Trim()
            : null;

    /// <summary>True if <paramref name="key"/> is present.</summary>
    public bool Has(string key) => _entries.ContainsKey(key);

    /// <summary>The value node of <paramref name="key"/>, or null.</summary>
    public YamlNode? Node(string key) => _entries.TryGetValue(key, out var e) ? e.Value : null;

    /// <summary>Where <paramref name="key"/> is written, or where the mapping starts if it is absent.</summary>
    public SourceLocation Location(string key) => _entries.TryGetValue(key, out var e) ? _context.At(e.Key) : _context.At(Mapping);

    /// <summary>Records an error at <paramref name="key"/>'s value (or the mapping).</summary>
    public void Error(string key, string message)
    {
        if (_entries.TryGetValue(key, out var e)) _context.Error(e.Value, $"{What}: '{key}' {message}");
        else _context.Error(Mapping, $"{What}: '{key}' {message}");
    }

    /// <summary>Records "missing 'key'" unless present; returns whether present.</summary>
    public bool Require(string key)
    {
        if (Has(key)) return true;
        _context.Error(Mapping, $"{What}: missing '{key}'");
        return false;
    }

    /// <summary>A text field.</summary>
    public string? String(string key, bool required = false)
    {
        var node = Present(key, required);
        if (node is null) return null;
        if (node is YamlScalarNode s && !IsNull(s)) return s.Value;
        Error(key, $"must be text, got {Describe(node)}");
        return null;
    }

    /// <summary>An integer field in [<paramref name="min"/>, <paramref name="max"/>] (decimal or 0x hex).</summary>
    public int? Int(string key, int min, int max, bool required = false)
    {
        var text = Scalar(key, required, "an integer");
        if (text is null) return null;
        if (!ByteSize.TryParseNumber(text, out var value) || value > int.MaxValue)
        {
            Error(key, $"must be an integer, got '{text}'");
            return null;
        }
        if ((long)value < min || (long)value > max)
        {
            Error(key, $"must be in {min}..{max}, got {value}");
            return null;
        }
        return (int)value;
    }

    /// <summary>A decimal number (e.g. 0.25) in [<paramref name="min"/>, <paramref name="max"/>].</summary>
    public double? Fraction(string key, double min, double max, bool required = false)
    {
        var text = Scalar(key, required, "a number");
        if (text is null) return null;
        var inv = System.Globalization.CultureInfo.InvariantCulture;
        if (!double.TryParse(text, System.Globalization.NumberStyles.AllowDecimalPoint, inv, out var value))
        {
            Error(key, $"must be a decimal number, got '{text}'");
            return null;
        }
        if (value < min || value > max)
        {
            Error(key, $"must be in {min.ToString(inv)}..{max.ToString(inv)}, got {value.ToString(inv)}");
            return null;
        }
        return value;
    }

    /// <summary>An address or count (decimal or 0x hex).</summary>
    public ulong? Number(string key, bool required = false)
    {
        var text = Scalar(key, required, "a number");
        if (text is null) return null;
        if (ByteSize.TryParseNumber(text, out var value)) return value;
        Error(key, $"must be a number (decimal or 0x-prefixed hex), got '{text}'");
        return null;
    }

    /// <summary>A size: 64M, 1G, 4096, 0x10000.</summary>
    public ulong? Size(string key, bool required = false)
    {
        var text = Scalar(key, required, "a size");
        if (text is null) return null;
        if (ByteSize.TryParse(text, out var bytes, out var problem)) return bytes;
        Error(key, $"must be a size: {problem}");
        return null;
    }

    /// <summary>A duration: 250ms, 5s, 1.5s, 2m.</summary>
    public TimeSpan? Duration(string key, bool required = false)
    {
        var text = Scalar(key, required, "a duration");
        if (text is null) return null;
        if (Durations.TryParse(text, out var duration)) return duration;
        Error(key, $"must be a duration such as 500ms, 5s or 2m, got '{text}'");
        return null;
    }

    /// <summary>One of <paramref name="choices"/> by name.</summary>
    public T? Choice<T>(string key, IReadOnlyDictionary<string, T> choices, bool required = false) where T : struct
    {
        var text = Scalar(key, required, $"one of {string.Join(", ", choices.Keys)}");
        if (text is null) return null;
        if (choices.TryGetValue(text, out var value)) return value;
        Error(key, $"must be one of {string.Join(", ", choices.Keys)}, got '{text}'{Suggestions.DidYouMean(text, choices.Keys)}");
        return null;
    }

    /// <summary>A yes/no field: true or false.</summary>
    public bool? Bool(string key, bool required = false)
    {
        var text = Scalar(key, required, "true or false");
        if (text is null) return null;
        if (text.Equals("true", StringComparison.OrdinalIgnoreCase)) return true;
        if (text.Equals("false", StringComparison.OrdinalIgnoreCase)) return false;
        Error(key, $"must be true or false, got '{text}'");
        return null;
    }

    /// <summary>A list of texts ([a, b] or '- a' lines; [] for none); null if absent or if an item is not text.</summary>
    public IReadOnlyList<string>? StringList(string key, bool required = false)
    {
        if (Sequence(key, required) is not { } list) return null;
        var items = new List<string>();
        bool ok = true;
        foreach (var item in list)
        {
            if (item is YamlScalarNode s && !IsNull(s)) items.Add(s.Value!.Trim());
            else
            {
                _context.Error(item, $"{What}: '{key}' items must be text, got {Describe(item)}");
                ok = false;
            }
        }
        return ok ? items : null;
    }

    /// <summary>A sequence field.</summary>
    public YamlSequenceNode? Sequence(string key, bool required = false)
    {
        var node = Present(key, required);
        if (node is null) return null;
        if (node is YamlSequenceNode seq) return seq;
        Error(key, $"must be a list ('- item' lines or [a, b]), got {Describe(node)}");
        return null;
    }

    private YamlNode? Present(string key, bool required)
    {
        if (_entries.TryGetValue(key, out var e)) return e.Value;
        if (required) _context.Error(Mapping, $"{What}: missing '{key}'");
        return null;
    }

    private string? Scalar(string key, bool required, string expected)
    {
        var node = Present(key, required);
        if (node is null) return null;
        if (node is YamlScalarNode s && !IsNull(s)) return s.Value!.Trim();
        Error(key, $"must be {expected}, got {Describe(node)}");
        return null;
    }
}
