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

    // Optimal string alignment distance: insertions, deletions, substitutions and swaps of neighbours ("strat" -> "start" is 1).
    private static int Distance(string a, string b)
    {
        var d = new int[a.Length + 1, b.Length + 1];
        for (int i = 0; i <= a.Length; i++) d[i, 0] = i;
        for (int j = 0; j <= b.Length; j++) d[0, j] = j;
        for (int i = 1; i <= a.Length; i++)
        {
            for (int j = 1; j <= b.Length; j++)
            {
                int cost = a[i - 1] == b[j - 1] ? 0 : 1;
                d[i, j] = Math.Min(Math.Min(d[i - 1, j] + 1, d[i, j - 1] + 1), d[i - 1, j - 1] + cost);
                if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) d[i, j] = Math.Min(d[i, j], d[i - 2, j - 2] + 1);
            }
        }
        return d[a.Length, b.Length];
    }
}
