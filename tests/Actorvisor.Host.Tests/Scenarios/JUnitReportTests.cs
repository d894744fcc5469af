using System.Xml.Linq;
using Actorvisor.Host.Scenarios.Parsing;
using Actorvisor.Host.Scenarios.Reporting;
using Xunit.Abstractions;

namespace Actorvisor.Host.Tests.Scenarios;

/// <summary>The JUnit XML report of real runs: suites, cases per step, failures with details, skipped steps, measurements, rejected files.</summary>
public class JUnitReportTests(ITestOutputHelper output)
{
    [Fact]
    public async Task A_run_becomes_a_suite_with_a_case_per_top_level_step()
    {
        var (passed, _, _) = await ScenarioTestSupport.RunAsync("""
            name: good
            description: boots hello
            vms: [ { name: h, guest: hello } ]
            steps:
              - measure: { name: boot, steps: [ { create: h }, { start: h }, { expect-result: { vm: h, code: 0 } } ] }
            """, output, "good.yaml");
        var (failed, _, _) = await ScenarioTestSupport.RunAsync("""
            name: bad
            vms: [ { name: h, guest: hello } ]
            steps:
              - create: h
              - start: h
              - expect-result: { vm: h, code: 3 }
              - destroy: h
            """, output, "bad.yaml");
        var rejected = Assert.Throws<ScenarioParseException>(() => ScenarioParser.Parse("steps:\n  - strat: h\n", "broken.yaml"));

        var path = Path.Combine(Directory.CreateTempSubdirectory("junit").FullName, "out", "report.xml");
        JUnitReport.Write(path, [passed, failed], [("broken.yaml", rejected.Errors)]);
        var xml = XDocument.Load(path);
        output.WriteLine(xml.ToString());

        var root = xml.Root!;
        Assert.Equal("testsuites", root.Name.LocalName);
        Assert.Equal(("6", "2", "1"), (root.Attribute("tests")!.Value, root.Attribute("failures")!.Value, root.Attribute("skipped")!.Value));
        var suites = root.Elements("testsuite").ToDictionary(s => s.Attribute("name")!.Value);

        var good = suites["good"];
        Assert.Equal("0", good.Attribute("failures")!.Value);
        var testCase = good.Element("testcase")!;
        Assert.Equal("1: measure boot", testCase.Attribute("name")!.Value);
        Assert.Equal("scenarios.good", testCase.Attribute("classname")!.Value);
        Assert.Equal("5", testCase.Attribute("line")!.Value);
        Assert.Null(testCase.Element("failure"));
        var properties = good.Element("properties")!.Elements("property").ToDictionary(p => p.Attribute("name")!.Value, p => p.Attribute("value")!.Value);
        Assert.Equal("1", properties["measure.boot.samples"]);
        Assert.True(double.Parse(properties["measure.boot.median_ms"], System.Globalization.CultureInfo.InvariantCulture) > 0);
        Assert.Equal("boots hello", good.Element("system-out")!.Value);

        var bad = suites["bad"];
        Assert.Equal(("4", "1", "1"), (bad.Attribute("tests")!.Value, bad.Attribute("failures")!.Value, bad.Attribute("skipped")!.Value));
        var cases = bad.Elements("testcase").ToList();
        var failure = cases[2].Element("failure")!;
        Assert.Equal("expect-result", failure.Attribute("type")!.Value);
        Assert.Contains("expected: exit with result code 3", failure.Value);
        Assert.Contains("seen:     exited with result code 0", failure.Value);
        Assert.Contains("| Hello from an Actorvisor guest!", failure.Value);
        Assert.Equal("not run: step 3 failed", cases[3].Element("skipped")!.Attribute("message")!.Value);

        var broken = suites["broken"];
        var parse = broken.Element("testcase")!;
        Assert.Equal("parse", parse.Attribute("name")!.Value);
        Assert.Contains("broken.yaml:2:5: error: unknown step 'strat'", parse.Element("failure")!.Value);
    }
}
