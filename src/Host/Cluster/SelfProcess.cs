using System.Diagnostics;

namespace Actorvisor.Host.Cluster;

/// <summary>
/// How to start this executable again as a child (`actorvisor ARGS`): owns the rule that under `dotnet
/// actorvisor.dll` (or a test host) the assembly is passed first, and that the child gets none of this process's
/// ACTORVISOR_* variables, so only its arguments configure it.
/// </summary>
internal static class SelfProcess
{
    /// <summary>A start description of `actorvisor ARGS` with stdout and stderr redirected.</summary>
    public static ProcessStartInfo StartInfo(IEnumerable<string> args)
    {
        var self = Environment.ProcessPath ?? throw new InvalidOperationException("the path of this executable is unknown");
        var info = new ProcessStartInfo(self) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        if (Path.GetFileNameWithoutExtension(self) == "dotnet") info.ArgumentList.Add(typeof(SelfProcess).Assembly.Location);
        foreach (var a in args) info.ArgumentList.Add(a);
        foreach (var key in info.Environment.Keys.Where(k => k.StartsWith("ACTORVISOR_", StringComparison.OrdinalIgnoreCase)).ToList()) info.Environment.Remove(key);
        return info;
    }
}
