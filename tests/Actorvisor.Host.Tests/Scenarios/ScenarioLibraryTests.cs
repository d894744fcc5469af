using Actorvisor.Host.Scenarios.Parsing;
using Xunit.Abstractions;

namespace Actorvisor.Host.Tests.Scenarios;

/// <summary>The scenario library: every tests/scenarios/*.yaml file is one test case and must pass.</summary>
public class ScenarioLibraryTests(ITestOutputHelper output)
{
    /// <summary>The library's files, by name.</summary>
    public static TheoryData<string> Files =>
        new(Directory.GetFiles(ScenarioTestSupport.LibraryFolder, "*.yaml").Select(f => Path.GetFileName(f)!).Order(StringComparer.Ordinal));

    [Theory]
    [MemberData(nameof(Files))]
    public async Task Scenario_passes(string file)
    {
        var scenario = ScenarioParser.ParseFile(Path.Combine(ScenarioTestSupport.LibraryFolder, file));
        var (result, _, report) = await ScenarioTestSupport.RunAsync(scenario, output);
        Assert.True(result.Passed, $"scenario {file} failed:\n{report}");
    }

    [Fact]
    public void The_library_has_at_least_ten_scenarios() => Assert.True(Files.Count >= 10, $"{Files.Count} scenarios");
}
