using System.Globalization;
using System.Text.RegularExpressions;

namespace Actorvisor.Actors.Tests.AsyncPf;

/// <summary>One record of a kernel trace buffer: the event's name and what it printed after it.</summary>
public sealed record KernelTraceRecord(string Event, string Detail)
{
    /// <summary>The "token 0x..." field of KVM's async-PF events, or null when the record has none.</summary>
    public ulong? Token => TokenField.Match(Detail) is { Success: true } m
        ? m.Groups[1].Value.StartsWith("0x", StringComparison.Ordinal)
            ? ulong.Parse(m.Groups[1].Value[2..], NumberStyles.HexNumber, CultureInfo.InvariantCulture)
            : ulong.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture)
        : null;

    private static readonly Regex TokenField = new(@"\btoken (0x[0-9a-fA-F]+|\d+)", RegexOptions.Compiled);
}
