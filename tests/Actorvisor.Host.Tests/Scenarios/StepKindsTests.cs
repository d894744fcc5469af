using System.Text.RegularExpressions;
using Actorvisor.Host.Scenarios.Language;
using Actorvisor.Host.Scenarios.Steps;

namespace Actorvisor.Host.Tests.Scenarios;

/// <summary>The step table: every step record has exactly one row, and the docs describe every keyword in table order.</summary>
public class StepKindsTests
{
    [Fact]
    public void Every_step_record_has_one_row()
    {
        var records = typeof(Step).Assembly.GetTypes().Where(t => t.IsSubclassOf(typeof(Step)) && !t.IsAbstract).OrderBy(t => t.Name).ToList();
        var rows = StepKinds.All.Select(k => k.StepType).OrderBy(t => t.Name).ToList();
        Assert.Equal(records, rows);
    }

    [Fact]
    public void Keywords_are_unique_and_each_finds_its_kind()
    {
        Assert.Equal(StepKinds.Keywords.Count, StepKinds.Keywords.Distinct().Count());
        foreach (var kind in StepKinds.All)
            foreach (var keyword in kind.Keywords)
                Assert.Same(kind, StepKinds.Find(keyword));
        Assert.Null(StepKinds.Find("strat"));
    }

    [Fact]
    public void Docs_describe_every_step_in_table_order()
    {
        var docs = File.ReadAllText(Path.Combine(ScenarioTestSupport.LibraryFolder, "..", "..", "docs", "scenarios.md"));
        var steps = docs[docs.IndexOf("\n## Steps\n", StringComparison.Ordinal)..];
        steps = steps[..steps.IndexOf("\n## ", 1, StringComparison.Ordinal)];
        var headings = Regex.Matches(steps, @"^### (\S+)$", RegexOptions.Multiline).Select(m => m.Groups[1].Value).ToList();
        Assert.Equal(StepKinds.Keywords, headings);
    }
}
