namespace Actorvisor.Host.Tests.Web;

/// <summary>
/// A test that drives Debian's chromium (<see cref="Executable"/>): skipped, saying how to install it, only on a
/// machine without it. tests/run.sh installs it (deploy/install-deps.sh --browser), so CI runs these tests.
/// </summary>
public sealed class ChromiumFactAttribute : FactAttribute
{
    /// <summary>The browser: ACTORVISOR_CHROMIUM, else Debian's chromium.</summary>
    public static string Executable => Environment.GetEnvironmentVariable("ACTORVISOR_CHROMIUM") is { Length: > 0 } path ? path : "/usr/bin/chromium";

    public ChromiumFactAttribute()
    {
        if (!File.Exists(Executable))
            Skip = $"no browser at {Executable}: install Debian's chromium with deploy/install-deps.sh --browser (or set ACTORVISOR_CHROMIUM)";
    }
}
