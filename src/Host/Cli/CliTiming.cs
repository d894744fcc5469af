using System.Diagnostics;
using System.Globalization;

namespace Actorvisor.Host.Cli;

/// <summary>
/// ACTORVISOR_CLI_TIMING=1: a CLI process prints to stderr how many milliseconds after its start it reached each phase
/// of its work and how much CPU time it had used by then (<c>[timing] 84.2 ms (cpu 40.1 ms) connected</c>: the CPU
/// figures stay comparable on a loaded machine, the wall ones do not), to find where a quick command's time goes. Off,
/// a mark costs a branch on a flag read once.
/// </summary>
public static class CliTiming
{
    private static readonly bool Enabled = Environment.GetEnvironmentVariable("ACTORVISOR_CLI_TIMING") is "1";
    private static readonly long Origin = Stopwatch.GetTimestamp();
    private static double _startToMain = -1;

    /// <summary>Marks the entry of Main: the first line says how long the runtime took to get there.</summary>
    public static void MainEntered()
    {
        if (!Enabled) return;
        using var self = Process.GetCurrentProcess();
        _startToMain = (DateTime.Now - self.StartTime).TotalMilliseconds - Stopwatch.GetElapsedTime(Origin).TotalMilliseconds;
        Mark("main entered");
    }

    /// <summary>Prints the time since the process started and <paramref name="phase"/>, when timing is on.</summary>
    public static void Mark(string phase)
    {
        if (!Enabled) return;
        double ms = Math.Max(_startToMain, 0) + Stopwatch.GetElapsedTime(Origin).TotalMilliseconds;
        double cpu = Environment.CpuUsage.TotalTime.TotalMilliseconds;
        Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture, $"[timing] {ms:0.0} ms (cpu {cpu:0.0} ms) {phase}"));
    }
}
