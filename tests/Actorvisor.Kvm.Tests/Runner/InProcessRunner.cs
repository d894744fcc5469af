using Xunit.Abstractions;
using Xunit.Sdk;

namespace Actorvisor.Kvm.Tests.Runner;

/// <summary>
/// Discovers and runs the xunit (v2) tests of some assemblies in this process with xunit's own engine
/// (XunitTestFramework: the same fixtures, theories and skips as under `dotnet test`), and writes one
/// <see cref="ResultLine"/> per result, after one plan line per selected test (the names as discovered here, which
/// is what the harness expects: a theory skipped at discovery elsewhere is one case there but one per row here).
/// Arguments: <c>--filter TEXT</c> (repeatable; runs tests whose display name contains any TEXT), <c>--exclude TEXT</c>
/// (repeatable; leaves out tests whose display name contains any TEXT), <c>--list</c> (print the test names and exit), <c>--show-output</c> (print each passing test's
/// output, indented with "  | ", before its result line: the figures a test measured, seen through run.sh --command).
/// Exit code: 0 all ran tests passed, 1 a test failed, 2 no test matched or the run itself broke.
/// </summary>
public static class InProcessRunner
{
    /// <summary>Runs the selected tests of <paramref name="suites"/>; see the type summary for <paramref name="args"/>.</summary>
    public static int Run(IReadOnlyList<TestSuite> suites, string[] args, TextWriter output)
    {
        var filters = new List<string>();
        var excludes = new List<string>();
        bool list = false, showOutput = false;
        for (int i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--filter" when i + 1 < args.Length: filters.Add(args[++i]); break;
                case "--exclude" when i + 1 < args.Length: excludes.Add(args[++i]); break;
                case "--list": list = true; break;
                case "--show-output": showOutput = true; break;
                default:
                    output.WriteLine($"unknown argument '{args[i]}'; usage: [--filter TEXT]... [--exclude TEXT]... [--list] [--show-output]");
                    return 2;
            }
        }

        // xunit's diagnostic messages (e.g. "falling back to single test case") are left out: the serial log
        // carries results; real problems arrive as error messages and fail the run.
        var log = TextWriter.Null;
        var diagnostics = new Sink(log, _ => { });
        using var framework = new XunitTestFramework(diagnostics);
        var options = new OptionBag();
        // One test at a time: KVM tests own vCPU threads and, inside the emulated host, the two CPUs.
        options.SetValue("xunit.execution.DisableParallelization", (bool?)true);
        options.SetValue("xunit.discovery.PreEnumerateTheories", (bool?)true);

        var plan = suites.Select(s => (s.Assembly, Cases: Discover(framework, s, options, log)
            .Where(c => filters.Count == 0 || filters.Any(f => c.DisplayName.Contains(f, StringComparison.Ordinal)))
            .Where(c => !excludes.Any(e => c.DisplayName.Contains(e, StringComparison.Ordinal))).ToList())).ToList();
        int total = plan.Sum(p => p.Cases.Count);
        if (list)
        {
            foreach (var c in plan.SelectMany(p => p.Cases)) output.WriteLine(c.DisplayName);
            return total > 0 ? 0 : 2;
        }
        if (total == 0)
        {
            output.WriteLine($"no tests matched {(filters.Count + excludes.Count == 0 ? "(no filter)" : string.Join(", ", filters.Concat(excludes.Select(e => "not " + e))))}");
            output.WriteLine(ResultLine.Done(0, 0, 0));
            return 2;
        }

        foreach (var c in plan.SelectMany(p => p.Cases)) output.WriteLine(ResultLine.Plan(c.DisplayName));
        int passed = 0, failed = 0, skipped = 0;
        foreach (var (assembly, cases) in plan.Where(p => p.Cases.Count > 0))
        {
            using var finished = new ManualResetEventSlim();
            var sink = new Sink(output, m =>
            {
                switch (m)
                {
                    case ITestStarting s: output.WriteLine(ResultLine.Run(s.Test.DisplayName)); break;
                    case ITestPassed p:
                        passed++;
                        if (showOutput) WriteTestOutput(output, p.Output);
                        output.WriteLine(ResultLine.Pass(p.Test.DisplayName, p.ExecutionTime));
                        break;
                    case ITestFailed f: failed++; output.WriteLine(ResultLine.Fail(f.Test.DisplayName, Describe(f))); break;
                    case ITestSkipped k: skipped++; output.WriteLine(ResultLine.Skip(k.Test.DisplayName, k.Reason)); break;
                    // Failures outside a test (fixture constructors, class cleanup, the runner itself) count too.
                    case IErrorMessage e: failed++; output.WriteLine(ResultLine.Fail($"{assembly.GetName().Name} (runner error)", Describe(e))); break;
                    case ITestClassCleanupFailure c: failed++; output.WriteLine(ResultLine.Fail($"{c.TestClass.Class.Name} (class cleanup)", Describe(c))); break;
                    case ITestCollectionCleanupFailure c: failed++; output.WriteLine(ResultLine.Fail($"{c.TestCollection.DisplayName} (collection cleanup)", Describe(c))); break;
                    case ITestAssemblyFinished: finished.Set(); break;
                }
            });
            using var executor = framework.GetExecutor(assembly.GetName());
            executor.RunTests(cases, sink, options);
            finished.Wait();
        }
        output.WriteLine(ResultLine.Done(passed, failed, skipped));
        return failed > 0 ? 1 : 0;
    }

    // --show-output: what a passing test wrote to its ITestOutputHelper (figures it measured), indented, before its result line.
    private static void WriteTestOutput(TextWriter output, string? text)
    {
        if (string.IsNullOrEmpty(text)) return;
        foreach (var line in text.TrimEnd('\n').Split('\n')) output.WriteLine($"  | {line.TrimEnd('\r')}");
    }

    private static IEnumerable<ITestCase> Discover(XunitTestFramework framework, TestSuite suite, OptionBag options, TextWriter output)
    {
        var cases = new List<ITestCase>();
        using var discovered = new ManualResetEventSlim();
        var sink = new Sink(output, m =>
        {
            if (m is ITestCaseDiscoveryMessage d && suite.Select(d.TestCase)) cases.Add(d.TestCase);
            if (m is IDiscoveryCompleteMessage) discovered.Set();
        });
        using var discoverer = framework.GetDiscoverer(Reflector.Wrap(suite.Assembly));
        discoverer.Find(includeSourceInformation: false, sink, options);
        discovered.Wait();
        return cases;
    }

    private static string Describe(IFailureInformation f)
    {
        var parts = new List<string>();
        for (int i = 0; i < f.ExceptionTypes.Length; i++)
        {
            string type = f.ExceptionTypes[i] ?? "exception";
            string message = i < f.Messages.Length ? f.Messages[i] ?? "" : "";
            parts.Add(message.StartsWith(type, StringComparison.Ordinal) ? message : $"{type}: {message}");
        }
        string trace = f.StackTraces.Length > 0 && f.StackTraces[0] is { } st
            ? " at " + string.Join(" <- ", st.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Take(3))
            : "";
        return string.Join(" ---> ", parts) + trace;
    }

    /// <summary>Passes every message to a callback; diagnostic messages are echoed for the log.</summary>
    private sealed class Sink(TextWriter output, Action<IMessageSinkMessage> onMessage) : Xunit.LongLivedMarshalByRefObject, IMessageSink
    {
        public bool OnMessage(IMessageSinkMessage message)
        {
            if (message is IDiagnosticMessage d) output.WriteLine($"xunit: {d.Message}");
            onMessage(message);
            return true;
        }
    }
}
