using System.Text;

namespace Actorvisor.Host.Cli;

/// <summary>
/// A table drawn with box characters (the square style `vm list` has always printed), rendered to one string: each
/// column as wide as its widest cell, one space of padding either side, no wrapping (a narrow terminal wraps lines
/// itself; a script should use --json). A cell may carry an ANSI colour, which takes no width.
/// </summary>
public sealed class TextTable
{
    private readonly string[] _headers;
    private readonly List<(string Text, string? Color)[]> _rows = [];

    /// <summary>A table with these column headers.</summary>
    public TextTable(params string[] headers)
    {
        ArgumentNullException.ThrowIfNull(headers);
        _headers = headers;
    }

    /// <summary>Adds a row of plain cells.</summary>
    public TextTable AddRow(params string[] cells) => AddRow([.. cells.Select(c => (c, (string?)null))]);

    /// <summary>Adds a row whose cells may each carry an ANSI colour (an SGR parameter such as "32"; null: none).</summary>
    public TextTable AddRow(params (string Text, string? Color)[] cells)
    {
        ArgumentNullException.ThrowIfNull(cells);
        if (cells.Length != _headers.Length) throw new ArgumentException($"a row of {cells.Length} cells in a table of {_headers.Length} columns", nameof(cells));
        _rows.Add(cells);
        return this;
    }

    /// <summary>The table as lines (each ending in a newline), with colours when <paramref name="color"/> is true.</summary>
    public string Render(bool color)
    {
        var widths = _headers.Select((h, i) => _rows.Select(r => r[i].Text.Length).Prepend(h.Length).Max()).ToArray();
        var text = new StringBuilder();
        void Rule(char left, char middle, char right)
        {
            text.Append(left);
            for (int i = 0; i < widths.Length; i++) text.Append('─', widths[i] + 2).Append(i == widths.Length - 1 ? right : middle);
            text.Append('\n');
        }
        void Row((string Text, string? Color)[] cells)
        {
            text.Append('│');
            for (int i = 0; i < cells.Length; i++)
            {
                var (cell, sgr) = cells[i];
                text.Append(' ');
                if (color && sgr is not null) text.Append("\e[").Append(sgr).Append('m').Append(cell).Append("\e[0m");
                else text.Append(cell);
                text.Append(' ', widths[i] - cell.Length + 1).Append('│');
            }
            text.Append('\n');
        }
        Rule('┌', '┬', '┐');
        Row([.. _headers.Select(h => (h, (string?)null))]);
        Rule('├', '┼', '┤');
        foreach (var row in _rows) Row(row);
        Rule('└', '┴', '┘');
        return text.ToString();
    }
}
