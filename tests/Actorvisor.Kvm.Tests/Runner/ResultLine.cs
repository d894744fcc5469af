namespace Actorvisor.Kvm.Tests.Runner;

/// <summary>
/// The line protocol between the test runner (inside the QEMU guest, writing to its serial console) and
/// tests/kvm-harness on the host, which parses it. One result per line, never wrapped:
/// <code>
/// KVMTEST PLAN name                 a test that will run (all PLAN lines come before the first RUN)
/// KVMTEST RUN  name                 a test started (lets the harness name a test that hung)
/// KVMTEST PASS name (12 ms)
/// KVMTEST FAIL name: message        newlines in the message are replaced by " | "
/// KVMTEST SKIP name: reason
/// KVMTEST DONE passed=N failed=N skipped=N
/// </code>
/// </summary>
public static class ResultLine
{
    /// <summary>Prefix of every protocol line.</summary>
    public const string Prefix = "KVMTEST";

    /// <summary>A test selected to run, announced before any test starts.</summary>
    public static string Plan(string name) => $"{Prefix} PLAN {OneLine(name)}";

    /// <summary>A test started.</summary>
    public static string Run(string name) => $"{Prefix} RUN {OneLine(name)}";

    /// <summary>A test passed.</summary>
    public static string Pass(string name, decimal seconds) => $"{Prefix} PASS {OneLine(name)} ({seconds * 1000:0} ms)";

    /// <summary>A test failed.</summary>
    public static string Fail(string name, string message) => $"{Prefix} FAIL {OneLine(name)}: {OneLine(message)}";

    /// <summary>A test was skipped.</summary>
    public static string Skip(string name, string reason) => $"{Prefix} SKIP {OneLine(name)}: {OneLine(reason)}";

    /// <summary>The run finished.</summary>
    public static string Done(int passed, int failed, int skipped) => $"{Prefix} DONE passed={passed} failed={failed} skipped={skipped}";

    private static string OneLine(string s) => s.ReplaceLineEndings(" | ").Trim();
}
