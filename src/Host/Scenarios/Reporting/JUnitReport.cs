using System.Globalization;
using System.Xml;
using System.Xml.Linq;
using Actorvisor.Host.Scenarios.Parsing;
using Actorvisor.Host.Scenarios.Running;

namespace Actorvisor.Host.Scenarios.Reporting;

/// <summary>
/// JUnit XML for CI systems: a &lt;testsuite&gt; per scenario file and a &lt;testcase&gt; per top-level step
/// (failure with the expected/seen/serial details, or skipped), measurements as suite properties. A file
/// that could not be read becomes a suite with one failed "parse" case listing its errors.
/// </summary>
public static class JUnitReport
{
    /// <summary>The report for <paramref name="results"/> and <paramref name="rejected"/> files.</summary>
    public static XDocument Build(IReadOnlyList<ScenarioResult> results, IReadOnlyList<(string File, IReadOnlyList<ScenarioError> Errors)>? rejected = null)
    {
        rejected ??= [];
        var suites = new List<XElement>();
        foreach (var (file, errors) in rejected)
        {
            suites.Add(new XElement("testsuite",
                new XAttribute("name", Path.GetFileNameWithoutExtension(file)), new XAttribute("file", file),
                new XAttribute("tests", 1), new XAttribute("failures", 1), new XAttribute("errors", 0), new XAttribute("skipped", 0), new XAttribute("time", "0"),
                new XElement("testcase", new XAttribute("classname", ClassName(file)), new XAttribute("name", "parse"), new XAttribute("file", file), new XAttribute("time", "0"),
                    new XElement("failure", new XAttribute("message", $"{errors.Count} error(s) in the scenario file"), new XAttribute("type", "parse"),
                        Clean(string.Join("\n", errors))))));
        }
        foreach (var r in results)
        {
            var cases = r.Steps.Select(s => TestCase(r, s)).ToList();
            if (r.Failure is not null)
            {
                cases.Add(new XElement("testcase", new XAttribute("classname", ClassName(r.Scenario.File)), new XAttribute("name", "scenario"),
                    new XAttribute("file", r.Scenario.File), new XAttribute("time", "0"),
                    new XElement("failure", new XAttribute("message", r.Failure.Message), new XAttribute("type", "scenario"), Clean(r.Failure.Render()))));
            }
            var properties = r.Measurements.SelectMany(m => new[]
            {
                Property($"measure.{m.Name}.samples", m.Samples.Count.ToString(CultureInfo.InvariantCulture)),
                Property($"measure.{m.Name}.min_ms", Ms(m.Min)),
                Property($"measure.{m.Name}.median_ms", Ms(m.Median)),
                Property($"measure.{m.Name}.mean_ms", Ms(m.Mean)),
                Property($"measure.{m.Name}.max_ms", Ms(m.Max)),
            }).ToList();
            suites.Add(new XElement("testsuite",
                new XAttribute("name", r.Scenario.Name),
                new XAttribute("file", r.Scenario.File),
                new XAttribute("tests", cases.Count),
                new XAttribute("failures", cases.Count(c => c.Element("failure") is not null)),
                new XAttribute("errors", 0),
                new XAttribute("skipped", cases.Count(c => c.Element("skipped") is not null)),
                new XAttribute("time", Seconds(r.Elapsed)),
                properties.Count > 0 ? new XElement("properties", properties) : null,
                cases,
                r.Scenario.Description.Length > 0 ? new XElement("system-out", r.Scenario.Description) : null));
        }
        int Sum(string attribute) => suites.Sum(s => int.Parse(s.Attribute(attribute)!.Value, CultureInfo.InvariantCulture));
        var root = new XElement("testsuites",
            new XAttribute("name", "actorvisor scenarios"),
            new XAttribute("tests", Sum("tests")),
            new XAttribute("failures", Sum("failures")),
            new XAttribute("errors", 0),
            new XAttribute("skipped", Sum("skipped")),
            new XAttribute("time", Seconds(TimeSpan.FromTicks(results.Sum(r => r.Elapsed.Ticks)))),
            suites);
        return new XDocument(new XDeclaration("1.0", "utf-8", null), root);
    }

    /// <summary>Writes the report to <paramref name="path"/> (creating its folder).</summary>
    public static void Write(string path, IReadOnlyList<ScenarioResult> results, IReadOnlyList<(string File, IReadOnlyList<ScenarioError> Errors)>? rejected = null)
    {
        var folder = Path.GetDirectoryName(Path.GetFullPath(path));
        if (folder is not null) Directory.CreateDirectory(folder);
        Build(results, rejected).Save(path);
    }

    private static XElement TestCase(ScenarioResult r, StepResult s)
    {
        var element = new XElement("testcase",
            new XAttribute("classname", ClassName(r.Scenario.File)),
            new XAttribute("name", $"{s.Path}: {s.Step.Describe()}"),
            new XAttribute("file", r.Scenario.File),
            new XAttribute("line", s.Step.Location.Line),
            new XAttribute("time", Seconds(s.Elapsed)));
        if (s.Status == StepStatus.Failed)
        {
            var cause = s.Cause;
            var failure = cause.Failure ?? s.Failure ?? new StepFailure("failed");
            var where = cause == s ? "" : $"step {cause.Path} ({cause.Step.Describe()}) at {cause.Step.Location}: ";
            element.Add(new XElement("failure", new XAttribute("message", Clean(where + failure.Message)), new XAttribute("type", cause.Step.Keyword), Clean(where + failure.Render())));
        }
        else if (s.Status == StepStatus.Skipped)
        {
            element.Add(new XElement("skipped", new XAttribute("message", s.Failure?.Message ?? "skipped")));
        }
        if (s.Detail is not null) element.Add(new XElement("system-out", Clean(s.Detail)));
        return element;
    }

    // Guest serial output may hold bytes XML cannot carry (NUL, escape codes): show them as \xNN.
    private static string Clean(string text) =>
        text.All(XmlConvert.IsXmlChar) ? text : string.Concat(text.Select(c => XmlConvert.IsXmlChar(c) ? c.ToString() : $"\\x{(int)c:x2}"));

    private static XElement Property(string name, string value) => new("property", new XAttribute("name", name), new XAttribute("value", value));

    private static string ClassName(string file) => "scenarios." + Path.GetFileNameWithoutExtension(file);

    private static string Seconds(TimeSpan t) => t.TotalSeconds.ToString("0.000", CultureInfo.InvariantCulture);

    private static string Ms(TimeSpan t) => t.TotalMilliseconds.ToString("0.0", CultureInfo.InvariantCulture);
}
