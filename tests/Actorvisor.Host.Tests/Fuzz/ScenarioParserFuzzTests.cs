using System.Text;
using Actorvisor.Host.Scenarios.Parsing;
using Actorvisor.Host.Tests.Scenarios;
using Actorvisor.Tests.Fuzz;
using Xunit.Abstractions;

namespace Actorvisor.Host.Tests.Fuzz;

/// <summary>
/// The scenario parser under mutated and random YAML for a fixed time budget: it returns a scenario or throws
/// a <see cref="ScenarioParseException"/>, nothing else, and never hangs. Seeds are the scenario library,
/// tests/scenarios (valid) and tests/scenarios/malformed (each with one known error).
/// </summary>
public sealed class ScenarioParserFuzzTests(ITestOutputHelper output)
{
    private static readonly byte[][] Dictionary =
    [
        .. new[]
        {
            "\n- ", ": ", "- ", "  ", "&a ", "*a", "<<: *a", "!!binary ", "!!int ", "!!map", "? ", "|\n", ">\n", "{", "}", "[", "]", "'", "\"",
            "~", "null", "0x", "-1", "1e999", "99999999999999999999", "0.000001", "1ms", "100h", "---\n", "...\n", "#", "%YAML 1.2\n",
            "steps:\n", "vms:\n", "nodes:\n", "timeout: ", "memory: ", "vcpus: ", "image: ", "expect-rejected: ", "../../../etc/passwd",
        }.Select(Encoding.UTF8.GetBytes),
    ];

    private static string Library => ScenarioTestSupport.LibraryFolder;

    private static IReadOnlyList<byte[]> Seeds() =>
        Directory.GetFiles(Library, "*.yaml", SearchOption.AllDirectories).Order(StringComparer.Ordinal).Select(File.ReadAllBytes).ToList();

    [Fact]
    public void The_parser_returns_a_scenario_or_a_parse_error_for_every_mutated_file()
    {
        var seeds = Seeds();
        Assert.True(seeds.Count >= 10, $"{seeds.Count} seeds in {Library}");
        var report = FuzzRun.Run("scenario", seeds, input =>
        {
            var scenario = ScenarioParser.Parse(Encoding.UTF8.GetString(input), "fuzz.yaml", Library);
            Assert.NotNull(scenario.Name);
        }, e => e is ScenarioParseException, Dictionary, maxLength: 64 << 10);
        output.WriteLine(report.ToString());
        Assert.True(report.Inputs >= 100 || FuzzRun.Replaying, report.ToString());
        Assert.True(report.Accepted > 0 || FuzzRun.Replaying, $"no mutated file parsed: the mutations never get past the YAML ({report})");
    }
}
