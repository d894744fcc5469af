namespace Actorvisor.Host.Scenarios.Parsing;

/// <summary>"did you mean ...?" for misspelled keys, steps and names.</summary>
internal static class Suggestions
{
    /// <summary>" (did you mean 'start'?)" when one known word is within a couple of edits of <paramref name="word"/>, else "".</summary>
    public static string DidYouMean(string word, IEnumerable<string> known)
    {
        var best = known
            .Select(k => (Word: k, Distance: Distance(word.ToLowerInvariant(), k.ToLowerInvariant())))
            .Where(c => c.Distance <= Math.Max(1, Math.Min(3, c.Word.Length / 3)))
            .OrderBy(c => c.Distance)
            .FirstOrDefault();
        return best.Word is null ? "" : $" (did you mean '{best.Word}'?)";
    }

    // Levenshtein distance, two rows.
    private static int Distance(string a, string b)
    {
        var previous = new int[b.Length + 1];
        var current = new int[b.Length + 1];
        for (int j = 0; j <= b.Length; j++) previous[j] = j;
        for (int i = 1; i <= a.Length; i++)
        {
            current[0] = i;
            for (int j = 1; j <= b.Length; j++)
            {
                int substitute = previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
                current[j] = Math.Min(substitute, Math.Min(previous[j] + 1, current[j - 1] + 1));
            }
            (previous, current) = (current, previous);
        }
        return previous[b.Length];
    }
}
